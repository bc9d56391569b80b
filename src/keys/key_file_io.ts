// Reading and atomically writing the key file, with the permission checks a private key deserves.
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { KeyStoreError } from './errors.js';

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * Reads the file's text. Warns (does not fail) when group or others may read or write it, so that a deployment
 * with a read-only secret mount of a different mode still starts, but the operator is told.
 */
export async function readKeyFileText(file: string, onWarning?: (message: string) => void): Promise<string> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      throw new KeyStoreError('KEYS_NOT_FOUND', `key file ${file} does not exist`, { file, cause: err });
    }
    throw new KeyStoreError('KEYS_UNREADABLE', `key file ${file} cannot be read (${errnoCode(err) ?? 'error'})`, {
      file,
      cause: err,
    });
  }
  try {
    // stat and read through one descriptor, so the mode we check belongs to the bytes we read.
    const info = await handle.stat();
    if (!info.isFile()) throw new KeyStoreError('KEYS_UNREADABLE', `key file ${file} is not a regular file`, { file });
    if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
      const mode = (info.mode & 0o777).toString(8).padStart(3, '0');
      onWarning?.(`key file ${file} has mode ${mode}; private keys should be 600 (chmod 600 ${file})`);
    }
    return await handle.readFile('utf8');
  } catch (err) {
    if (err instanceof KeyStoreError) throw err;
    throw new KeyStoreError('KEYS_UNREADABLE', `key file ${file} cannot be read (${errnoCode(err) ?? 'error'})`, {
      file,
      cause: err,
    });
  } finally {
    await handle.close();
  }
}

async function syncDirectory(dir: string): Promise<void> {
  // Makes the rename itself durable. Not every platform can open a directory; the rename is still atomic there.
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // best effort
  }
}

function alreadyExists(file: string): KeyStoreError {
  return new KeyStoreError('KEYS_EXISTS', `key file ${file} already exists; use --force (force: true) to replace it`, {
    file,
  });
}

async function publishExclusive(tmp: string, file: string): Promise<void> {
  try {
    // link() fails if `file` exists, atomically: two instances starting together cannot both create the file,
    // so neither ends up signing with a key that the file (and so the other instances) does not have.
    await link(tmp, file);
  } catch (err) {
    if (errnoCode(err) === 'EEXIST') throw alreadyExists(file);
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'].includes(errnoCode(err) ?? '')) throw err;
    // Filesystems without hard links: fall back to check-then-rename, racy only against a concurrent creator.
    const exists = await stat(file).then(() => true, (statErr) => errnoCode(statErr) !== 'ENOENT');
    if (exists) throw alreadyExists(file);
    await rename(tmp, file);
  }
}

/**
 * Writes `text` to `file` with mode 0600 via a temporary file in the same directory, so a crash leaves either
 * the old file or the new one, never a half-written one. With `overwrite: false` an existing file is an error
 * (`KEYS_EXISTS`) and is left untouched.
 */
export async function writeKeyFileAtomic(file: string, text: string, options: { overwrite: boolean }): Promise<void> {
  const dir = dirname(file);
  const tmp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await mkdir(dir, { recursive: true, mode: DIR_MODE });
    const handle = await open(tmp, 'wx', FILE_MODE);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (options.overwrite) {
      await rename(tmp, file);
    } else {
      await publishExclusive(tmp, file);
    }
    await syncDirectory(dir);
  } catch (err) {
    if (err instanceof KeyStoreError) throw err;
    throw new KeyStoreError('KEYS_WRITE_FAILED', `key file ${file} cannot be written (${errnoCode(err) ?? 'error'})`, {
      file,
      cause: err,
    });
  } finally {
    // After rename there is nothing left to remove; after link or a failure the temporary file must go.
    await unlink(tmp).catch(() => undefined);
  }
}
