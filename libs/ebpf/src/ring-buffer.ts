/** Reading a pinned BPF ring buffer by polling: each drain() returns the samples waiting now. */
import { native, type RingHandle } from './native.js';

export class PinnedRingBuffer {
  private handle?: RingHandle;

  private constructor(
    readonly path: string,
    handle: RingHandle,
    /** libbpf keeps using the map fd: held until close(). */
    private readonly fd: number,
  ) {
    this.handle = handle;
  }

  static open(path: string): PinnedRingBuffer {
    const fd = native.objGet(path);
    try {
      return new PinnedRingBuffer(path, native.ringOpen(fd), fd);
    } catch (error) {
      native.closeFd(fd);
      throw error;
    }
  }

  /** At most `limit` samples, oldest first; [] when none are waiting. */
  drain(limit = 4096): Buffer[] {
    if (!this.handle) throw new Error(`${this.path}: ring buffer is closed`);
    return native.ringConsume(this.handle, limit);
  }

  close(): void {
    if (!this.handle) return;
    native.ringClose(this.handle);
    native.closeFd(this.fd);
    this.handle = undefined;
  }
}
