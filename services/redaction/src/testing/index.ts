export { CORPUS_PROMPT, type CorpusSample, fakeToken, SAMPLES } from './corpus.js';
