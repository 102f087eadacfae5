/**
 * Streaming line splitter over a FileHandle (the FileSystem seam), for `vecwal import`.
 *
 * Reads the file in chunks at explicit positions, from any byte offset (a resumed import seeks
 * to the offset its last acknowledged batch recorded; nothing before it is read again). Lines
 * are split on the byte 0x0A before decoding, so a multi-byte UTF-8 character split across two
 * chunks is never decoded in halves (0x0A never occurs inside a UTF-8 sequence). A trailing
 * '\r' is dropped (CRLF files), a final line without a newline is still a line, and invalid
 * UTF-8 is an error naming the line. Memory: the longest line plus one chunk.
 */
import type { FileHandle } from '../fs/fs.js';
import { VecwalError } from '../errors.js';

export interface Line {
  /** Decoded text, without the line ending. */
  text: string;
  /** 1-based line number (counted from where the reader started; see LineReader). */
  lineNo: number;
  /** Byte offset of the line's first byte. */
  start: number;
  /** Byte offset just after the line's '\n' (or the end of the file for a last line without one). */
  end: number;
}

export const DEFAULT_CHUNK_BYTES = 1 << 20;
/** A longer line is refused: it is almost surely not a JSONL/CSV file (a single-document JSON?). */
export const MAX_LINE_BYTES = 256 << 20;

export class LineReader {
  private buf: Uint8Array;
  /** File offset of buf[0]. */
  private base: number;
  /** buf[head, tail) holds unread bytes; newline search resumes at `scan`. */
  private head = 0;
  private tail = 0;
  private scan = 0;
  private eof = false;
  private nextLineNo: number;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  /**
   * @param start byte offset to read from (a line start)
   * @param firstLineNo the line number of the line at `start`
   */
  constructor(
    private readonly handle: FileHandle,
    start: number,
    firstLineNo: number,
    private readonly chunkBytes = DEFAULT_CHUNK_BYTES,
    private readonly maxLineBytes = MAX_LINE_BYTES,
  ) {
    this.buf = new Uint8Array(chunkBytes);
    this.base = start;
    this.nextLineNo = firstLineNo;
  }

  /** Line number of the next line. */
  get lineNo(): number {
    return this.nextLineNo;
  }

  /** File offset of the next unread byte. */
  get position(): number {
    return this.base + this.head;
  }

  /**
   * The next line when it is buffered; null at the end of the file; undefined when more bytes
   * must be read first (`await fill()`, then call again). Synchronous, so that a batch of
   * buffered lines is taken without a promise per line.
   */
  take(): Line | null | undefined {
    if (this.head === this.tail && this.eof) return null;
    const nl = this.buf.indexOf(0x0a, Math.max(this.head, this.scan));
    let stop: number;
    let next: number;
    if (nl >= 0 && nl < this.tail) {
      stop = nl;
      next = nl + 1;
    } else if (this.eof) {
      stop = this.tail;
      next = this.tail;
    } else {
      this.scan = this.tail;
      if (this.tail - this.head > this.maxLineBytes) {
        throw new VecwalError('DATA_INVALID', `line ${this.nextLineNo}: longer than ${this.maxLineBytes} bytes (one row per line is expected)`, { line: this.nextLineNo, offset: this.position });
      }
      return undefined;
    }
    const start = this.base + this.head;
    const lineNo = this.nextLineNo++;
    let end = stop;
    if (end > this.head && this.buf[end - 1] === 0x0d) end--;
    let text: string;
    try {
      text = this.decoder.decode(this.buf.subarray(this.head, end));
    } catch {
      throw new VecwalError('DATA_INVALID', `line ${lineNo}: not valid UTF-8`, { line: lineNo, offset: start });
    }
    this.head = next;
    this.scan = next;
    return { text, lineNo, start, end: this.base + next };
  }

  /** Read the next chunk (compacting or growing the buffer as needed). */
  async fill(): Promise<void> {
    if (this.eof) return;
    if (this.head > 0) {
      this.buf.copyWithin(0, this.head, this.tail);
      this.base += this.head;
      this.tail -= this.head;
      this.scan -= this.head;
      this.head = 0;
    }
    if (this.buf.length - this.tail < this.chunkBytes) {
      const grown = new Uint8Array(Math.max(this.buf.length * 2, this.tail + this.chunkBytes));
      grown.set(this.buf.subarray(0, this.tail));
      this.buf = grown;
    }
    const n = await this.handle.read(this.buf, this.tail, this.buf.length - this.tail, this.base + this.tail);
    if (n === 0) this.eof = true;
    this.tail += n;
  }

  /** The next line, reading as needed; null at the end of the file. */
  async next(): Promise<Line | null> {
    for (;;) {
      const line = this.take();
      if (line !== undefined) return line;
      await this.fill();
    }
  }
}

/** A line holding only blanks (skipped by the JSONL and CSV readers; counted for line numbers). */
export function isBlank(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0xfeff) return false;
  }
  return true;
}
