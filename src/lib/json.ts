/** Values as the API accepts them (SPEC §3–§4), spelled out without recursion so RPC types stay finite. */
export type FlatValue = string | number | boolean | null | string[];
export type FlatObject = { [key: string]: FlatValue };
export type EventAttributes = { [key: string]: FlatValue | FlatObject | FlatObject[] };

/** The largest attribute name or reason echoed back in an error: keeps error rows small. */
export const ECHO_LIMIT = 200;
