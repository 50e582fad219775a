/*
 * Tokens of audio in a prompt, where its rate is published: Gemini "represents each second of
 * audio as 32 tokens; for example, one minute of audio is represented as 1,920 tokens"
 * (ai.google.dev/gemini-api/docs/tokens). OpenAI publishes no rate for chat audio input: there
 * audio stays uncounted (flagged `audio`).
 *
 * The length is read from the clip's bytes, no decoder: a WAV's data chunk over its byte rate
 * (its `fmt ` chunk), an MP3's frame count from its Xing / Info header when it has one (VBR),
 * else its bytes over its first frame's bitrate (behind an ID3v2 tag). Only the headers are
 * decoded from the base64; the clip's size is taken from the base64's length. A clip read
 * neither way is taken by its size at a low bitrate (FALLBACK_BYTES_PER_SECOND), so long.
 */

export const GEMINI_AUDIO_TOKENS_PER_SECOND = 32;
/** 16 kbps: below what speech is recorded at, so that an unread clip is not taken as short. */
export const FALLBACK_BYTES_PER_SECOND = 2000;
/** Bytes decoded to find a WAV's chunks or an MP3's first frame. */
const HEAD_BYTES = 4096;

/** Bytes a base64 text decodes to (whitespace aside). */
function decodedLength(data: string): number {
  let padding = 0;
  while (padding < 2 && data[data.length - 1 - padding] === '=') padding++;
  return Math.max(0, Math.floor((data.length * 3) / 4) - padding);
}

/** `length` bytes of the decoded data from byte `offset`, decoding only those. */
function bytesAt(data: string, offset: number, length: number): Buffer {
  const start = Math.floor(offset / 3) * 4;
  const skip = offset - (start / 4) * 3;
  const end = start + Math.ceil((length + skip) / 3) * 4;
  return Buffer.from(data.slice(start, end), 'base64').subarray(skip);
}

function wavSeconds(head: Buffer, total: number): number | null {
  let byteRate = 0;
  let at = 12;
  while (at + 8 <= head.length) {
    const id = head.toString('latin1', at, at + 4);
    const size = head.readUInt32LE(at + 4);
    if (id === 'fmt ' && at + 20 <= head.length) byteRate = head.readUInt32LE(at + 16);
    // A streamed WAV may leave the data size unset (0 or 0xFFFFFFFF): the rest of the file.
    if (id === 'data') {
      const rest = total - at - 8;
      const bytes = size === 0 || size > rest ? rest : size;
      return byteRate > 0 ? bytes / byteRate : null;
    }
    at += 8 + size + (size & 1);
  }
  return null;
}

/** kbps by bitrate index: MPEG-1 layers I, II, III, then MPEG-2 / 2.5 layer I, layers II and III. */
const BITRATES: readonly (readonly number[])[] = [
  [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
];
/** Hz by sample-rate index, for MPEG-1, 2 and 2.5. */
const SAMPLE_RATES = {
  1: [44100, 48000, 32000],
  2: [22050, 24000, 16000],
  2.5: [11025, 12000, 8000],
} as const;

function mp3Seconds(data: string, total: number): number | null {
  const tag = bytesAt(data, 0, 10);
  let offset = 0;
  if (tag.length === 10 && tag.toString('latin1', 0, 3) === 'ID3') {
    const size =
      ((tag[6]! & 0x7f) << 21) | ((tag[7]! & 0x7f) << 14) | ((tag[8]! & 0x7f) << 7) | (tag[9]! & 0x7f);
    offset = 10 + size + ((tag[5]! & 0x10) !== 0 ? 10 : 0);
  }
  const head = bytesAt(data, offset, HEAD_BYTES);
  for (let i = 0; i + 4 <= head.length; i++) {
    const b1 = head[i + 1]!;
    const b2 = head[i + 2]!;
    if (head[i] !== 0xff || (b1 & 0xe0) !== 0xe0) continue;
    const versionBits = (b1 >> 3) & 3;
    const layer = 4 - ((b1 >> 1) & 3); // 1, 2, 3 (4: reserved)
    const bitrateIndex = b2 >> 4;
    const rateIndex = (b2 >> 2) & 3;
    if (versionBits === 1 || layer === 4 || bitrateIndex === 0 || bitrateIndex === 15 || rateIndex === 3)
      continue;
    const version = versionBits === 3 ? 1 : versionBits === 2 ? 2 : 2.5;
    const kbps = BITRATES[version === 1 ? layer - 1 : layer === 1 ? 3 : 4]![bitrateIndex]!;
    const sampleRate = SAMPLE_RATES[version][rateIndex]!;
    const samplesPerFrame = layer === 1 ? 384 : layer === 3 && version !== 1 ? 576 : 1152;
    // A VBR file's first frame says how many frames follow (Xing, or Info for CBR encoders).
    for (const marker of ['Xing', 'Info']) {
      const at = head.indexOf(marker, i + 4, 'latin1');
      if (at < 0 || at > i + 64 || at + 12 > head.length) continue;
      if ((head.readUInt32BE(at + 4) & 1) !== 0)
        return (head.readUInt32BE(at + 8) * samplesPerFrame) / sampleRate;
    }
    return ((total - offset - i) * 8) / (kbps * 1000);
  }
  return null;
}

/** The length in seconds of a base64 WAV or MP3 clip, or null when its headers cannot be read. */
export function audioSeconds(data: string): number | null {
  const total = decodedLength(data);
  if (total === 0) return null;
  const head = bytesAt(data, 0, HEAD_BYTES);
  if (
    head.length >= 12 &&
    head.toString('latin1', 0, 4) === 'RIFF' &&
    head.toString('latin1', 8, 12) === 'WAVE'
  )
    return wavSeconds(head, total);
  return mp3Seconds(data, total);
}

/** Tokens Gemini bills for a base64 clip: 32 a second of it, an unread clip by its size. */
export function geminiAudioTokens(data: string): number {
  const seconds = audioSeconds(data) ?? decodedLength(data) / FALLBACK_BYTES_PER_SECOND;
  return Math.ceil(seconds * GEMINI_AUDIO_TOKENS_PER_SECOND);
}
