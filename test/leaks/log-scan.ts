import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export interface ScanResult {
  files: number;
  bytes: number;
  secrets: number;
  /** `secret (first 4 chars…) in file` for every hit. */
  hits: string[];
}

/** Every secret recorded under `<dir>/secrets/`, decoded. */
export function recordedSecrets(dir: string): string[] {
  const secretsDir = join(dir, 'secrets');
  const secrets = new Set<string>();
  for (const name of readdirSync(secretsDir)) {
    for (const line of readFileSync(join(secretsDir, name), 'utf8').split('\n')) {
      if (line.trim() !== '') secrets.add(Buffer.from(line, 'base64').toString());
    }
  }
  return [...secrets];
}

/** Scans every log file directly under `dir` for every secret, verbatim and URL-encoded. */
export function scanLogs(dir: string, secrets: string[]): ScanResult {
  const result: ScanResult = { files: 0, bytes: 0, secrets: secrets.length, hits: [] };
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (!statSync(path).isFile()) continue;
    const text = readFileSync(path, 'utf8');
    result.files++;
    result.bytes += text.length;
    for (const secret of secrets) {
      for (const form of new Set([secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)])) {
        if (text.includes(form)) result.hits.push(`${secret.slice(0, 4)}… in ${name}`);
      }
    }
  }
  return result;
}
