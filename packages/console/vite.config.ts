// The console's build (dist/, served by the coordinator at /) and dev server (`npx vite`), whose proxy sends the
// API and the audio WebSocket to a running coordinator on 127.0.0.1:8080 (or $SYNTHIANS_CONSOLE_API).
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

const coordinator = process.env.SYNTHIANS_CONSOLE_API ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/',
  plugins: [preact()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    proxy: {
      '/v1': { target: coordinator, ws: true, changeOrigin: true },
      '/api': { target: coordinator, ws: true, changeOrigin: true },
    },
  },
  preview: { host: '127.0.0.1' },
});
