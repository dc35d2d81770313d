// Types of nest11-packages.mjs, for TypeScript tests.
export declare const NEST_11_PACKAGES: Readonly<Record<string, string>>;
