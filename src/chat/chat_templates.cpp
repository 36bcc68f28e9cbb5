// chat/chat_templates.cpp — built-in templates for models that ship none (or a broken one).
// The Gemma 4 template is our own text, written from the rendering rules of
// spec/gemma4-chat.md §3-§5 (current format); it expects messages normalized by
// normalize_messages() (tool-call arguments as objects).
#include "chat/chat.h"

namespace fitserve::chat {
namespace {

const char* const kGemma4Template = R"JINJA({#- OpenAI Chat Completions: fitserve's built-in Gemma 4 chat template (current format).
    Messages carry role, content, reasoning_content, tool_calls (function.arguments as
    objects), tool_call_id and name; tools are OpenAI function tools. -#}
{%- set Q = '<|"|>' -%}
{%- macro value(v, quote_keys) -%}
  {%- if v is string -%}{{- Q ~ v ~ Q -}}
  {%- elif v is boolean -%}{{- 'true' if v else 'false' -}}
  {%- elif v is mapping -%}
    {{- '{' -}}
    {%- for k, x in v | dictsort -%}
      {{- ('' if loop.first else ',') ~ (Q ~ k ~ Q if quote_keys else k) ~ ':' ~ value(x, quote_keys) -}}
    {%- endfor -%}
    {{- '}' -}}
  {%- elif v is sequence and v is not string -%}
    {{- '[' -}}
    {%- for x in v -%}{{- ('' if loop.first else ',') ~ value(x, quote_keys) -}}{%- endfor -%}
    {{- ']' -}}
  {%- else -%}{{- v -}}
  {%- endif -%}
{%- endmacro -%}
{%- macro schema_props(props) -%}
  {%- set ns = namespace(first=true) -%}
  {%- for name, p in props | dictsort -%}
    {%- if name not in ['description', 'type', 'properties', 'required', 'nullable'] -%}
      {{- ('' if ns.first else ',') ~ name ~ ':{' ~ schema_fields(p) ~ '}' -}}
      {%- set ns.first = false -%}
    {%- endif -%}
  {%- endfor -%}
{%- endmacro -%}
{%- macro schema_items(items) -%}
  {%- set ns = namespace(out=[]) -%}
  {%- for k, x in items | dictsort -%}
    {%- if x is not none -%}
      {%- if k == 'properties' -%}
        {%- set ns.out = ns.out + ['properties:{' ~ (schema_props(x) if x is mapping else '') ~ '}'] -%}
      {%- elif k == 'required' -%}
        {%- set ns.out = ns.out + ['required:' ~ value(x, true)] -%}
      {%- elif k == 'type' -%}
        {%- set ns.out = ns.out + ['type:' ~ value(x | upper if x is string else x | map('upper') | list, true)] -%}
      {%- else -%}
        {%- set ns.out = ns.out + [k ~ ':' ~ value(x, true)] -%}
      {%- endif -%}
    {%- endif -%}
  {%- endfor -%}
  {{- ns.out | join(',') -}}
{%- endmacro -%}
{%- macro schema_fields(p) -%}
  {%- set ns = namespace(out=[]) -%}
  {%- set t = (p['type'] | upper) if p['type'] is defined else '' -%}
  {%- if p['description'] -%}{%- set ns.out = ns.out + ['description:' ~ Q ~ p['description'] ~ Q] -%}{%- endif -%}
  {%- if t == 'STRING' and p['enum'] -%}{%- set ns.out = ns.out + ['enum:' ~ value(p['enum'], true)] -%}{%- endif -%}
  {%- if t == 'ARRAY' and p['items'] is mapping and p['items'] -%}
    {%- set ns.out = ns.out + ['items:{' ~ schema_items(p['items']) ~ '}'] -%}
  {%- endif -%}
  {%- if p['nullable'] -%}{%- set ns.out = ns.out + ['nullable:true'] -%}{%- endif -%}
  {%- if t == 'OBJECT' -%}
    {%- set ns.out = ns.out + ['properties:{' ~ schema_props(p['properties'] if p['properties'] is mapping else p) ~ '}'] -%}
    {%- if p['required'] -%}{%- set ns.out = ns.out + ['required:' ~ value(p['required'], true)] -%}{%- endif -%}
  {%- endif -%}
  {%- if t -%}{%- set ns.out = ns.out + ['type:' ~ Q ~ t ~ Q] -%}{%- endif -%}
  {{- ns.out | join(',') -}}
{%- endmacro -%}
{%- macro declaration(tool) -%}
  {%- set fn = tool['function'] -%}
  {{- 'declaration:' ~ fn['name'] ~ '{description:' ~ Q ~ (fn['description'] | default('')) ~ Q -}}
  {%- set params = fn['parameters'] -%}
  {%- if params -%}
    {%- set ns = namespace(out=[]) -%}
    {%- if params['properties'] is mapping and params['properties'] -%}
      {%- set ns.out = ns.out + ['properties:{' ~ schema_props(params['properties']) ~ '}'] -%}
    {%- endif -%}
    {%- if params['required'] -%}{%- set ns.out = ns.out + ['required:' ~ value(params['required'], true)] -%}{%- endif -%}
    {{- ',parameters:{' ~ ns.out | join(',') -}}
    {%- if params['type'] -%}{{- (',' if ns.out else '') ~ 'type:' ~ Q ~ (params['type'] | upper) ~ Q ~ '}' -}}{%- endif -%}
  {%- endif -%}
  {{- '}' -}}
{%- endmacro -%}
{%- macro text_of(content) -%}
  {%- if content is string -%}{{- content | trim -}}
  {%- elif content is iterable -%}
    {%- for part in content -%}{%- if part['type'] == 'text' -%}{{- part['text'] | trim -}}{%- endif -%}{%- endfor -%}
  {%- endif -%}
{%- endmacro -%}
{%- macro raw_text(content) -%}
  {%- if content is string -%}{{- content -}}
  {%- elif content is iterable -%}
    {%- for part in content -%}{%- if part['type'] == 'text' -%}{{- part['text'] -}}{%- endif -%}{%- endfor -%}
  {%- endif -%}
{%- endmacro -%}
{%- macro visible(text) -%}
  {%- set ns = namespace(out='') -%}
  {%- for chunk in text.split('<|channel>') -%}
    {%- if loop.first -%}{%- set ns.out = ns.out ~ chunk -%}
    {%- elif '<channel|>' in chunk -%}{%- set ns.out = ns.out ~ chunk.split('<channel|>', 1)[1] -%}
    {%- endif -%}
  {%- endfor -%}
  {{- ns.out | trim -}}
{%- endmacro -%}
{%- set think = enable_thinking is defined and enable_thinking -%}
{%- set first_is_system = messages | length > 0 and messages[0]['role'] in ['system', 'developer'] -%}
{%- set ns = namespace(last_user=-1, prev_assistant=false, tool_turn=false) -%}
{%- for m in messages -%}{%- if m['role'] == 'user' -%}{%- set ns.last_user = loop.index0 -%}{%- endif -%}{%- endfor -%}
{{- bos_token -}}
{%- if think or tools or first_is_system -%}
  {{- '<|turn>system\n' -}}
  {%- if think -%}{{- '<|think|>\n' -}}{%- endif -%}
  {%- if first_is_system -%}{{- text_of(messages[0]['content']) -}}{%- endif -%}
  {%- for tool in tools | default([]) -%}{{- '<|tool>' ~ declaration(tool) ~ '<tool|>' -}}{%- endfor -%}
  {{- '<turn|>\n' -}}
{%- endif -%}
{%- for m in messages -%}
  {%- set idx = loop.index0 -%}
  {%- if idx == 0 and first_is_system -%}
  {%- elif m['role'] == 'tool' -%}
  {%- elif m['role'] == 'assistant' -%}
    {%- if not ns.prev_assistant -%}{{- '<|turn>model\n' -}}{%- endif -%}
    {%- set calls = m['tool_calls'] | default([]) -%}
    {%- set reasoning = m['reasoning_content'] | default(m['reasoning'] | default('')) -%}
    {%- if calls and reasoning and idx > ns.last_user -%}
      {{- '<|channel>thought\n' ~ reasoning ~ '\n<channel|>' -}}
    {%- endif -%}
    {%- for call in calls -%}
      {%- set args = call['function']['arguments'] -%}
      {{- '<|tool_call>call:' ~ call['function']['name'] -}}
      {{- value(args, false) if args is mapping else '{' ~ (args | default('')) ~ '}' -}}
      {{- '<tool_call|>' -}}
    {%- endfor -%}
    {%- set rs = namespace(count=0) -%}
    {%- for t in messages[idx + 1:] -%}
      {%- if t['role'] != 'tool' -%}{%- break -%}{%- endif -%}
      {%- set rn = namespace(name=t['name'] | default('unknown'), found=false) -%}
      {%- for call in calls -%}
        {%- if not rn.found and call['id'] is defined and call['id'] == t['tool_call_id'] -%}
          {%- set rn.name = call['function']['name'] -%}
          {%- set rn.found = true -%}
        {%- endif -%}
      {%- endfor -%}
      {{- '<|tool_response>response:' ~ rn.name ~ '{value:' ~ Q ~ raw_text(t['content']) ~ Q ~ '}<tool_response|>' -}}
      {%- set rs.count = rs.count + 1 -%}
    {%- endfor -%}
    {%- set content = visible(raw_text(m['content'])) -%}
    {{- content -}}
    {%- if calls and rs.count == 0 -%}
      {{- '<|tool_response>' -}}
    {%- elif rs.count > 0 and not content -%}
    {%- else -%}
      {{- '<turn|>\n' -}}
    {%- endif -%}
    {%- set ns.tool_turn = calls | length > 0 or rs.count > 0 -%}
    {%- set ns.prev_assistant = true -%}
  {%- else -%}
    {{- '<|turn>' ~ m['role'] ~ '\n' ~ text_of(m['content']) ~ '<turn|>\n' -}}
    {%- set ns.prev_assistant = false -%}
    {%- set ns.tool_turn = false -%}
  {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt and not ns.tool_turn -%}
  {{- '<|turn>model\n' -}}
  {%- if not think -%}{{- '<|channel>thought\n<channel|>' -}}{%- endif -%}
{%- endif -%})JINJA";

const char* const kChatmlTemplate = R"JINJA({%- for m in messages -%}
  {{- '<|im_start|>' ~ m['role'] ~ '\n' -}}
  {%- if m['content'] is string -%}{{- m['content'] -}}
  {%- else -%}{%- for part in m['content'] -%}{%- if part['type'] == 'text' -%}{{- part['text'] -}}{%- endif -%}{%- endfor -%}
  {%- endif -%}
  {{- '<|im_end|>\n' -}}
{%- endfor -%}
{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\n' -}}{%- endif -%})JINJA";

}  // namespace

ChatTemplate ChatTemplate::builtin_gemma4(std::string bos_token, std::string eos_token) {
  return from_source(kGemma4Template, std::move(bos_token), std::move(eos_token));
}

ChatTemplate ChatTemplate::builtin_chatml(std::string bos_token, std::string eos_token) {
  return from_source(kChatmlTemplate, std::move(bos_token), std::move(eos_token));
}

ChatTemplate ChatTemplate::fallback(const std::string& architecture, std::string bos_token, std::string eos_token) {
  if (architecture.rfind("gemma4", 0) == 0) return builtin_gemma4(std::move(bos_token), std::move(eos_token));
  return builtin_chatml(std::move(bos_token), std::move(eos_token));
}

}  // namespace fitserve::chat
