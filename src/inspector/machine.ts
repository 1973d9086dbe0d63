/**
 * The supervisor's statechart as plain JSON, read from the XState machine itself (its state nodes),
 * so the inspector always draws the machine the engine runs, never a hand-copied picture. XState's
 * own `definition` holds cycles (transitions point back at state nodes), hence this walk. The state
 * node shape is declared structurally: only src/state imports xstate.
 */

export interface MachineTransitionJson {
  /** The event ('FLUSH', 'port'), 'always' for an eventless transition, 'done'/'error' for an invoked actor's outcome. */
  readonly event: string;
  /** Target state ids (e.g. 'supervisor.draining'); empty for a transition that stays put (actions only). */
  readonly targets: readonly string[];
  readonly guard: string | null;
  readonly actions: readonly string[];
}

export interface MachineStateJson {
  /** Full id, e.g. 'supervisor.starting.backends'. */
  readonly id: string;
  readonly key: string;
  readonly type: string;
  readonly initial: string | null;
  /** Actors invoked while in this state (their `src`). */
  readonly invoke: readonly string[];
  /** Actions run on entering the state. */
  readonly entry: readonly string[];
  readonly transitions: readonly MachineTransitionJson[];
  readonly states: readonly MachineStateJson[];
}

interface NamedThing {
  readonly type?: unknown;
}

/** What this module reads of an XState v5 StateNode. */
export interface StateNodeLike {
  readonly id: string;
  readonly key: string;
  readonly type: string;
  readonly states: Readonly<Record<string, StateNodeLike>>;
  readonly initial?: { readonly target?: readonly { readonly id: string }[] } | undefined;
  readonly invoke: readonly { readonly src: unknown }[];
  readonly entry?: readonly unknown[] | undefined;
  readonly transitions: ReadonlyMap<string, readonly TransitionLike[]>;
  readonly always?: readonly TransitionLike[] | undefined;
}

interface TransitionLike {
  readonly eventType: string;
  readonly target?: readonly { readonly id: string }[] | undefined;
  readonly guard?: unknown;
  readonly actions: readonly unknown[];
}

function name(thing: unknown): string {
  if (typeof thing === 'string') return thing;
  if (typeof thing === 'function') return thing.name || 'inline';
  const t = (thing as NamedThing | null)?.type;
  return typeof t === 'string' ? t : 'inline';
}

/** xstate.done.actor.0.supervisor.starting.backends → done (the invoked actor settled). */
function eventLabel(eventType: string): string {
  if (eventType.startsWith('xstate.done.actor.')) return 'done';
  if (eventType.startsWith('xstate.error.actor.')) return 'error';
  return eventType;
}

function transition(t: TransitionLike, event?: string): MachineTransitionJson {
  return {
    event: event ?? eventLabel(t.eventType),
    targets: (t.target ?? []).map((s) => s.id),
    guard: t.guard === undefined || t.guard === null ? null : name(t.guard),
    actions: t.actions.map(name),
  };
}

export function machineToJson(node: StateNodeLike): MachineStateJson {
  const transitions: MachineTransitionJson[] = [];
  for (const list of node.transitions.values()) for (const t of list) transitions.push(transition(t));
  for (const t of node.always ?? []) transitions.push(transition(t, 'always'));
  const initial = node.initial?.target?.[0]?.id ?? null;
  return {
    id: node.id,
    key: node.key,
    type: node.type,
    initial,
    invoke: node.invoke.map((i) => name(i.src)),
    entry: (node.entry ?? []).map(name),
    transitions,
    states: Object.values(node.states).map(machineToJson),
  };
}

/**
 * The ids of the active states of a state value, outermost first: "running" → [root.running];
 * {"draining":"decodes"} → [root.draining, root.draining.decodes].
 */
export function activeStateIds(rootId: string, value: unknown): string[] {
  const out: string[] = [];
  const walk = (prefix: string, v: unknown): void => {
    if (typeof v === 'string') {
      out.push(`${prefix}.${v}`);
      return;
    }
    if (typeof v !== 'object' || v === null) return;
    for (const [key, child] of Object.entries(v)) {
      out.push(`${prefix}.${key}`);
      walk(`${prefix}.${key}`, child);
    }
  };
  walk(rootId, value);
  return out;
}
