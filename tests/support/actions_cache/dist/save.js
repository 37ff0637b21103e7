// The tests' stand-in of actions/cache/save: saveCache of @actions/cache, as the action
// calls it.
"use strict";
const core = require("@actions/core");
const cache = require("@actions/cache");

async function main() {
  const key = core.getInput("key", { required: true });
  const paths = core.getInput("path").split("\n").map((s) => s.trim()).filter(Boolean);
  if (!cache.isFeatureAvailable()) {
    core.warning("Cache service is not available");
    return;
  }
  const id = await cache.saveCache(paths, key);
  if (id !== -1) {
    core.info(`Cache saved with key: ${key}`);
  }
}

main().catch((e) => core.warning(e.message));
