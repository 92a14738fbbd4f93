// Shared Jest settings; each project's jest.config.cjs spreads this and sets its rootDir.
module.exports = {
  testEnvironment: require.resolve('./tools/jest/node-environment.cjs'),
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } },
    ],
  },
  // Generated code (Prisma) imports its TypeScript siblings with ESM-style `.js` specifiers.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  moduleFileExtensions: ['ts', 'js', 'json', 'node'],
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/**/*.e2e.spec.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/generated/'],
};
