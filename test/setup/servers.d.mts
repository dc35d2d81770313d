// Types of servers.mjs, for TypeScript tests: a test that kills servers starts servers of its own,
// so that other test files running meanwhile keep theirs.
import type { ChildProcess } from 'node:child_process';

export interface RedisSentinelGroup {
  /** The name the sentinel knows the master by. */
  name: string;
  masterPort: number;
  replicaPort: number;
  sentinelPort: number;
  /** Kills the master outright (SIGKILL); the sentinel then promotes the replica. */
  stopMaster(): Promise<void>;
}

export declare const POSTGRES_DATABASE: string;

export declare class TestServers {
  /** `dir`: the run folder for data and logs (created by the caller); `bins`: program paths by name. */
  constructor(dir: string, bins: Record<string, string | null | undefined>);
  startRedis(): Promise<number>;
  startRedisCluster(): Promise<number[]>;
  startRedisSentinel(tag?: string, name?: string): Promise<RedisSentinelGroup>;
  startMemcached(n: number): Promise<number>;
  startPostgres(): Promise<number>;
  stopAll(): Promise<void>;
  stopOnRunnerDeath(child: ChildProcess, signal: NodeJS.Signals): void;
  killAllNow(): void;
}
