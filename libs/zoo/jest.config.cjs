module.exports = { ...require('../../jest.preset.cjs'), displayName: 'zoo', rootDir: __dirname };
