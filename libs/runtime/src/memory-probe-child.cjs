// Child process of measureModelMemory: loads one model in a fresh process, so that what it adds to
// the resident set is not mixed with anything else, and reports RSS at each step to the parent.
const ort = require('onnxruntime-node');

process.once('message', async (job) => {
  try {
    global.gc?.();
    const rssBeforeBytes = process.memoryUsage().rss;
    const session = await ort.InferenceSession.create(job.modelPath, job.sessionOptions);
    const rssAfterCreateBytes = process.memoryUsage().rss;
    const feeds = {};
    for (const [name, dims] of Object.entries(job.inputDims)) {
      feeds[name] = new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
    }
    await session.run(feeds);
    const rssAfterRunBytes = process.memoryUsage().rss;
    await session.release();
    process.send({ ok: true, rssBeforeBytes, rssAfterCreateBytes, rssAfterRunBytes });
  } catch (error) {
    process.send({ ok: false, message: error instanceof Error ? error.message : String(error) });
  }
});
