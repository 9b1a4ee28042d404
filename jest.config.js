/** Jest in ESM mode (see package.json "test": --experimental-vm-modules). */
export default {
  testEnvironment: 'node',
  rootDir: '.',
  // sample-app/test: the sample's own tests, written as an application's would be (nestjs-taskqueue/testing).
  roots: ['<rootDir>/test', '<rootDir>/sample-app/test'],
  testRegex: '\\.(spec|e2e-spec)\\.ts$',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: {
    '^(\\.{1,2}/.*)\\.js$': '$1',
    // The sample app imports the package by name; its tests run against the sources.
    '^nestjs-taskqueue$': '<rootDir>/src/index.ts',
    '^nestjs-taskqueue/(health|testing|dashboard|metrics|transactional)$': '<rootDir>/src/$1/index.ts',
  },
  transform: {
    '^.+/sample-app/.+\\.ts$': [
      'ts-jest',
      { useESM: true, tsconfig: '<rootDir>/sample-app/tsconfig.spec.json', diagnostics: { ignoreCodes: [151002] } },
    ],
    '^.+\\.ts$': [
      'ts-jest',
      { useESM: true, tsconfig: '<rootDir>/tsconfig.json', diagnostics: { ignoreCodes: [151002] } },
    ],
  },
  globalSetup: '<rootDir>/test/global-setup.js',
  globalTeardown: '<rootDir>/test/global-teardown.js',
  testTimeout: 30000,
  maxWorkers: 2,
};
