/**
 * Hears of changes in the manifest folder with one kernel watch (inotify, through fs.watch) per
 * folder the manifest folder listed, and one per file that is a symbolic link (its target may live
 * in a folder nobody watches). Each event names the path to read again: the entry of a watched folder
 * that changed, the link whose target changed, or the folder itself when the kernel could not say
 * which entry (or the folder is gone). What is watched follows the folder's listing after each read
 * (sync()), so the cost of a change is the event, not a walk of the tree: a folder of 10,000 files
 * is one watch, where watching file by file cost a stat and a watch per file at start.
 */
import { statSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';

export type WatchedKind = 'folder' | 'link';

export class FolderWatcher {
  private readonly watchers = new Map<string, { kind: WatchedKind; watcher: FSWatcher; inode: number }>();

  constructor(
    /** A path to read again. */
    private readonly changed: (path: string) => void,
    /** Names in a folder whose change means the folder itself must be listed again (markers). */
    private readonly folderMarkers: ReadonlySet<string> = new Set(),
  ) {}

  /** Watches exactly `paths` from now on; returns the paths newly watched (to be read once more: a change before the watch began is unheard). */
  sync(paths: ReadonlyMap<string, WatchedKind>): string[] {
    for (const [path, watched] of this.watchers) {
      if (paths.get(path) === watched.kind) continue;
      watched.watcher.close();
      this.watchers.delete(path);
    }
    const added: string[] = [];
    for (const [path, kind] of paths) {
      if (this.watchers.has(path)) continue;
      let watcher: FSWatcher;
      let inode: number;
      try {
        inode = statSync(path).ino;
        watcher = watch(path, { persistent: false }, (_event, name) => this.heard(path, kind, inode, name === null ? undefined : String(name)));
      } catch {
        // gone already, or not watchable: reading it again says what it is
        this.changed(path);
        continue;
      }
      watcher.on('error', () => this.forget(path));
      this.watchers.set(path, { kind, watcher, inode });
      added.push(path);
    }
    return added;
  }

  /** Stops every watch. */
  close(): void {
    for (const { watcher } of this.watchers.values()) watcher.close();
    this.watchers.clear();
  }

  private heard(path: string, kind: WatchedKind, inode: number, name: string | undefined): void {
    if (kind === 'link') {
      this.changed(path);
      return;
    }
    let now: number | undefined;
    try {
      now = statSync(path).ino;
    } catch {
      now = undefined;
    }
    if (now !== inode) {
      // the folder itself went or was replaced: its watch is dead; the next sync() watches whatever is there then
      this.forget(path);
      return;
    }
    this.changed(name === undefined || this.folderMarkers.has(name) ? path : join(path, name));
  }

  private forget(path: string): void {
    this.watchers.get(path)?.watcher.close();
    this.watchers.delete(path);
    this.changed(path);
  }
}
