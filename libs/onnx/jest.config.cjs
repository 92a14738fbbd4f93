module.exports = { ...require('../../jest.preset.cjs'), displayName: 'onnx', rootDir: __dirname };
