/** What a reader needs to judge a benchmark's noise: when, on what, and how busy the machine was. */
import { availableParallelism, cpus, loadavg } from 'node:os';

export function loadAverage(): string {
  const [one, five, fifteen] = loadavg().map((value) => value.toFixed(2));
  return `load average ${one} ${five} ${fifteen} (1, 5, 15 min) on ${availableParallelism()} cores`;
}

export function machineLine(): string {
  const model = cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `${new Date().toISOString()}, Node ${process.version}, ${model}`;
}
