/** The key of a command as the caller gave it; several keys for the `*Many` commands. */
export type CommandKey = string | readonly string[];

/** One command of an alias, as an observer sees it. */
export interface ObservedCommand {
  alias: string;
  operation: string;
  key: CommandKey;
  /** The backend's name (`redis`, `locmem`, a custom class's name). */
  backend: string;
}

/** A command being watched: when it started, and whatever the observer keeps for it (its span). */
export interface CommandWatch {
  readonly started: number;
}

/**
 * Where an alias reports its commands beyond its counters: spans and the per-request cache
 * panel. `observability/` implements it; `core/` only calls it, so tracing stays a layer above.
 */
export interface CommandObserver {
  /** Whether the next command should be watched at all (read on every command: keep it a field read). */
  readonly observing: boolean;
  /** Whether spans are recorded now. */
  readonly tracing: boolean;
  /** Starts watching one command (its span, when spans are recorded). */
  watch(command: ObservedCommand): CommandWatch;
  /** Runs the backend call inside the watch's span, so that a client instrumentation's spans nest under it. */
  within<T>(watch: CommandWatch, run: () => T): T;
  /** The command settled. */
  settled(
    watch: CommandWatch,
    command: ObservedCommand,
    outcome: { hit: boolean | undefined; durationMs: number; error: unknown },
  ): void;
  /** A call made of several commands (`getOrSet`) in a span of its own, their parent; `hit` once it settled. */
  spanned<T>(command: ObservedCommand, work: () => Promise<T>, hit: () => boolean): Promise<T>;
}
