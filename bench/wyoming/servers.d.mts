// Types of servers.mjs (the pure part the unit test uses).

export declare function splitEvent(buf: Buffer): { type: string; data: Record<string, unknown>; rest: Buffer } | null;
