/** The logging surface libs need; Nest's Logger satisfies it. */
export interface Logger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export function consoleLogger(context: string): Logger {
  const line = (level: string, message: string) => `${new Date().toISOString()} ${level} [${context}] ${message}`;
  return {
    log: (message) => console.log(line('INFO', message)),
    warn: (message) => console.warn(line('WARN', message)),
    error: (message) => console.error(line('ERROR', message)),
  } satisfies Logger;
}
