module.exports = { ...require('../../jest.preset.cjs'), displayName: 'approx', rootDir: __dirname };
