import { defineConfig } from "vitest/config";

// Tauri loads the bundle from disk (relative base) in webviews as old as Safari 15 / WebKitGTK.
export default defineConfig({
  base: "./",
  clearScreen: false,
  server: { port: 1420, strictPort: true },
  build: { target: "es2021", outDir: "dist", emptyOutDir: true },
  test: { environment: "node", include: ["src/**/*.test.ts"] },
});
