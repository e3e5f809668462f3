{# The daily window Dagster asks for, as date literals: [start, end).

   The window is dbt's --event-time-start / --event-time-end (dbt checks both are given, as
   dates, start before end), read only when dbt executes: dbt hashes every --vars value into
   its partial-parse state, so a per-run window passed as --vars made each run re-parse the
   whole project. Parsing only captures refs, and sees the widest window. Unit tests set
   the window as vars of the same names (their `overrides`). #}
{% macro window_date(flag, default) -%}
    {%- set given = var(flag, none) or (invocation_args_dict.get(flag) if execute else none) -%}
    {%- set value = (given | string)[:10] if given else default -%}
    {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', value) -%}
        {{ exceptions.raise_compiler_error(flag ~ " must be a date, got: " ~ given) }}
    {%- endif -%}
    cast('{{ value }}' as date)
{%- endmacro %}

{% macro window_start(lookback_days=0) -%}
    ({{ window_date('event_time_start', '2000-01-01') }} - {{ lookback_days | int }} * interval 1 day)
{%- endmacro %}

{% macro window_end() -%}
    {{ window_date('event_time_end', '2100-01-01') }}
{%- endmacro %}
