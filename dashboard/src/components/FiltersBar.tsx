import { SEVERITIES } from "../api/types";
import { isFiltered, toggleSeverity, type Filters } from "../lib/filters";

interface Props {
  filters: Filters;
  hosts: readonly string[];
  shown: number;
  total: number;
  onChange: (filters: Filters) => void;
}

export function FiltersBar({ filters, hosts, shown, total, onChange }: Props) {
  const hostOptions = filters.host && !hosts.includes(filters.host) ? [filters.host, ...hosts] : hosts;
  return (
    <div className="filters" data-testid="filters">
      <div className="chips" role="group" aria-label="Severity">
        {SEVERITIES.map((s) => {
          const active = filters.severities.includes(s);
          return (
            <button
              key={s}
              type="button"
              className={`chip sev-chip-${s.toLowerCase()}${active ? " active" : ""}`}
              aria-pressed={active}
              onClick={() => onChange(toggleSeverity(filters, s))}
            >
              {s}
            </button>
          );
        })}
      </div>
      <label className="host-filter">
        <span className="visually-hidden">Host</span>
        <select
          value={filters.host ?? ""}
          onChange={(e) => onChange({ ...filters, host: e.target.value || null })}
          data-testid="host-filter"
        >
          <option value="">All hosts</option>
          {hostOptions.map((h) => (
            <option key={h} value={h}>
              {h}
            </option>
          ))}
        </select>
      </label>
      <span className="count muted" data-testid="alert-count">
        {isFiltered(filters) ? `${shown} of ${total}` : total} alert{total === 1 ? "" : "s"}
      </span>
      {isFiltered(filters) ? (
        <button type="button" className="link-button" onClick={() => onChange({ severities: [], host: null })}>
          Clear filters
        </button>
      ) : null}
    </div>
  );
}
