import type { Severity } from "../api/types";

export function SeverityBadge({ severity }: { severity: Severity }) {
  return <span className={`badge sev-${severity.toLowerCase()}`}>{severity}</span>;
}

/** The risk score (0-100) as a number and a small bar. */
export function RiskMeter({ score }: { score: number }) {
  const rounded = Math.round(score);
  return (
    <span className="risk" title={`Risk score ${rounded} / 100`}>
      <span className="risk-bar" aria-hidden="true">
        <span style={{ width: `${rounded}%` }} />
      </span>
      <span className="risk-value">
        risk <strong>{rounded}</strong>
      </span>
    </span>
  );
}
