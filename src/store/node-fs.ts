// node:fs for the store modules, taken without an ESM import.
//
// Importing a builtin as ESM snapshots every export, which runs node:fs's lazy getters
// (ReadStream, WriteStream, promises) and loads what they stand for. A process running the
// store and the engine alone never uses them: they were 1.2 MiB of its RSS in the engine
// benchmark's parked-runs process. getBuiltinModule hands over the module without them.
export const fs = process.getBuiltinModule("node:fs");
