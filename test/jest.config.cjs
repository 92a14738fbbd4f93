module.exports = {
  ...require('../jest.preset.cjs'),
  displayName: 'e2e',
  rootDir: __dirname,
  // One fleet at a time: two on two cores slow each other's rounds past the tests' patience.
  maxWorkers: 1,
};
