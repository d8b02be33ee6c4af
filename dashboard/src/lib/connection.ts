/**
 * Connection status of the insights poll, as a pure state machine:
 *
 *   connecting --success--> connected --3 consecutive failures--> error --success--> connected
 *
 * One or two failures in a row are tolerated (the status keeps its value, the failure count
 * shows in the indicator's tooltip); any success resets the count.
 */

export type ConnectionStatus = "connecting" | "connected" | "error";

export const FAILURE_THRESHOLD = 3;

export interface ConnectionState {
  status: ConnectionStatus;
  consecutiveFailures: number;
  lastSuccessAt: number | null;
  lastError: string | null;
}

export type ConnectionEvent = { type: "success"; at: number } | { type: "failure"; at: number; error: string };

export const initialConnectionState: ConnectionState = {
  status: "connecting",
  consecutiveFailures: 0,
  lastSuccessAt: null,
  lastError: null,
};

export function nextConnectionState(state: ConnectionState, event: ConnectionEvent): ConnectionState {
  if (event.type === "success") {
    return { status: "connected", consecutiveFailures: 0, lastSuccessAt: event.at, lastError: null };
  }
  const consecutiveFailures = state.consecutiveFailures + 1;
  return {
    ...state,
    consecutiveFailures,
    lastError: event.error,
    status: consecutiveFailures >= FAILURE_THRESHOLD ? "error" : state.status,
  };
}

/** A tiny external store around the state machine, for `useSyncExternalStore`. */
export class ConnectionTracker {
  private state: ConnectionState = initialConnectionState;
  private readonly listeners = new Set<() => void>();

  report(event: ConnectionEvent): void {
    this.state = nextConnectionState(this.state, event);
    for (const listener of this.listeners) listener();
  }

  getSnapshot = (): ConnectionState => this.state;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
}
