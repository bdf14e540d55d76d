// The health monitor (port 5584): the library (`HealthMonitor`) and the service (`healthMonitorService`).
export * from './config.ts';
export * from './monitor.ts';
export * from './api.ts';
export * from './service.ts';
