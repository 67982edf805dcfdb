// One part of a running node that has a life: it starts after the parts it needs and stops before them.
export interface Service {
  /** Names the part in logs and in start-up errors. */
  readonly name: string;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
}
