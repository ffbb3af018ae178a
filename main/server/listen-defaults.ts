// Where `grove serve` listens unless told otherwise: this machine only. (A module of its own so
// the command line can show the defaults without loading the HTTP framework.)
export const DEFAULT_HOST = '127.0.0.1'
export const DEFAULT_PORT = 7420
