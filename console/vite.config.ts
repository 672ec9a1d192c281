import { defineConfig } from "vitest/config";

// The console is served under /console/ at the API's origin. Asset names
// carry their content hash, so a build of the same sources is the same files.
export default defineConfig({
  base: "/console/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    target: "es2022",
    reportCompressedSize: false,
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
