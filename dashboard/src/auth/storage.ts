import type { ICognitoStorage } from "amazon-cognito-identity-js";

/** Every key amazon-cognito-identity-js writes starts with this. */
export const LIBRARY_PREFIX = "CognitoIdentityServiceProvider.";

function sessionStorageOrNull(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null; // blocked storage (some privacy modes): memory it is
  }
}

/**
 * The token cache for the library: this tab's sessionStorage (a reload stays signed in, closing
 * the tab signs out), or memory when there is none. Never localStorage, which the library would
 * pick by default and which outlives the browser session. `clear` removes only the library's keys.
 */
export function tabStorage(backing: Storage | null = sessionStorageOrNull()): ICognitoStorage {
  const memory = new Map<string, string>();
  const keys = () => (backing ? Array.from({ length: backing.length }, (_, i) => backing.key(i) ?? "") : [...memory.keys()]);
  return {
    getItem: (key) => (backing ? backing.getItem(key) : (memory.get(key) ?? null)),
    setItem: (key, value) => (backing ? backing.setItem(key, value) : void memory.set(key, value)),
    removeItem: (key) => (backing ? backing.removeItem(key) : void memory.delete(key)),
    clear: () => {
      for (const key of keys().filter((k) => k.startsWith(LIBRARY_PREFIX))) {
        if (backing) backing.removeItem(key);
        else memory.delete(key);
      }
    },
  };
}
