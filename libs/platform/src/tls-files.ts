/**
 * PEM files of a TLS server setting read at start, each failure naming its variable (a typo in a
 * mounted path says which setting to fix, not just ENOENT).
 */
import { readFileSync } from 'node:fs';

export interface TlsFileSettings {
  certFile: string;
  keyFile: string;
  caFile?: string;
}

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

/** Reads the files of `<prefix>_CERT`, `<prefix>_KEY` and, when set, `<prefix>_CA`. */
export function readTlsFiles(settings: TlsFileSettings, prefix: string): TlsFiles {
  const read = (file: string, setting: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      throw new Error(`${prefix}_${setting}=${file}: ${(error as Error).message}`);
    }
  };
  return { cert: read(settings.certFile, 'CERT'), key: read(settings.keyFile, 'KEY'), ...(settings.caFile ? { ca: read(settings.caFile, 'CA') } : {}) };
}
