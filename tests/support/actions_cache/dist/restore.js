// The tests' stand-in of actions/cache/restore: restoreCache of @actions/cache, as the
// action calls it, with its outputs.
"use strict";
const core = require("@actions/core");
const cache = require("@actions/cache");

function lines(name) {
  return core.getInput(name).split("\n").map((s) => s.trim()).filter(Boolean);
}

async function main() {
  const key = core.getInput("key", { required: true });
  const restoreKeys = lines("restore-keys");
  core.setOutput("cache-primary-key", key);
  if (!cache.isFeatureAvailable()) {
    core.warning("Cache service is not available");
    core.setOutput("cache-hit", "false");
    return;
  }
  const matched = await cache.restoreCache(lines("path"), key, restoreKeys);
  if (!matched) {
    core.info(`Cache not found for input keys: ${[key, ...restoreKeys].join(", ")}`);
    core.setOutput("cache-hit", "false");
    return;
  }
  core.setOutput("cache-matched-key", matched);
  core.setOutput("cache-hit", String(matched === key));
  core.info(`Cache restored from key: ${matched}`);
}

main().catch((e) => core.setFailed(e.message));
