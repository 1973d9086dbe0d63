// Types of machine.mjs, so the TypeScript unit test checks its calls under `strict`.

export declare const INT8_FLAGS: readonly string[];

export interface MachineInfo {
  readonly cpu: string;
  readonly logicalCores: number;
  readonly totalMemBytes: number;
  readonly kernel: string;
  readonly node: string;
  /** Of INT8_FLAGS, those the CPU has; null where they cannot be read. */
  readonly int8: readonly string[] | null;
}

export declare function int8Features(cpuinfo: string): string[] | null;
export declare function machineInfo(): MachineInfo;
export declare function describeMachine(machine: Pick<MachineInfo, 'cpu' | 'logicalCores'> & { readonly int8?: readonly string[] | null }): string;
