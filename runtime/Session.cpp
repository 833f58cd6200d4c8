//===- Session.cpp - scoring and KV-cached generation for one user --------===//
#include "Session.h"
#include "RuntimeError.h"
#include "Sampler.h"

#include <cmath>
#include <cstring>

namespace mbrt {

void checkVocabulary(const uint8_t *bytes, size_t size, int32_t vocabSize,
                     const char *what) {
  if (vocabSize >= 256)
    return;
  for (size_t i = 0; i < size; ++i)
    if (bytes[i] >= vocabSize)
      fail(MBRT_ERROR_INVALID_ARGUMENT,
           std::string(what) + ": byte " + std::to_string(bytes[i]) +
               " at offset " + std::to_string(i) +
               " is outside the model's vocabulary of " +
               std::to_string(vocabSize) + " tokens");
}

EntryCall::EntryCall(const Model &model, const EntryPoint &entry,
                     mbrt_host_context *context, CudaSessionState *cudaSession,
                     bool captureGraph)
    : entry_(&entry),
      function_(model.cuda() ? nullptr : model.function(entry)) {
  buffers_.resize(entry.args.size());
  args_.resize(entry.args.size());
  for (size_t i = 0; i < entry.args.size(); ++i) {
    const EntryArg &arg = entry.args[i];
    switch (arg.kind) {
    case ArgKind::Context:
      args_[i] = context;
      break;
    case ArgKind::Weight:
      // The ABI takes void*; compiled code only reads weights.
      args_[i] = const_cast<void *>(model.weight(arg.weightIndex));
      break;
    case ArgKind::Input:
    case ArgKind::Output:
    case ArgKind::InOut:
      buffers_[i] =
          AlignedBuffer(size_t(elementCount(arg.shape)) * dtypeSize(arg.dtype));
      args_[i] = buffers_[i].data();
      break;
    }
  }
  if (!cudaSession)
    return;
  std::vector<uint8_t *> host(buffers_.size());
  for (size_t i = 0; i < buffers_.size(); ++i)
    host[i] = buffers_[i].data();
  const ModelMetadata &meta = model.metadata();
  cuda_ = std::make_unique<CudaEntryCall>(
      *cudaSession, meta, entry,
      model.cuda()->metadata().plans[&entry - meta.entryPoints.data()], host,
      captureGraph);
}

size_t EntryCall::argIndex(const std::string &name) const {
  int index = entry_->findArg(name);
  if (index < 0)
    fail(MBRT_ERROR_INTERNAL, "entry point \"" + entry_->name +
                                  "\" has no argument \"" + name + "\"");
  return size_t(index);
}

const AlignedBuffer &EntryCall::bufferOf(const std::string &name) const {
  return buffers_[argIndex(name)];
}

void EntryCall::setInput(const std::string &name, const EntryCall *source,
                         const std::string &sourceName, size_t offset,
                         size_t bytes) {
  size_t index = argIndex(name);
  size_t sourceIndex = source ? source->argIndex(sourceName) : 0;
  // The device buffers have the host buffers' sizes: one check for both.
  if (bytes > buffers_[index].size() ||
      (source && offset + bytes > source->buffers_[sourceIndex].size()))
    fail(MBRT_ERROR_INTERNAL, "entry point \"" + entry_->name + "\": input \"" +
                                  name + "\" cannot take " +
                                  std::to_string(bytes) + " bytes");
  if (cuda_) {
    cuda_->setInput(index, source ? source->cuda_.get() : nullptr, sourceIndex,
                    offset, bytes);
    return;
  }
  if (source)
    std::memcpy(buffers_[index].data(),
                source->buffers_[sourceIndex].data() + offset, bytes);
  else
    std::memset(buffers_[index].data(), 0, bytes);
}

void EntryCall::resetState() {
  if (cuda_)
    cuda_->resetState();
  for (size_t i = 0; i < buffers_.size(); ++i)
    if (entry_->args[i].kind == ArgKind::InOut)
      std::memset(buffers_[i].data(), 0, buffers_[i].size());
}

Session::Session(const Model &model, int threads)
    // A CUDA model computes on the device: no worker threads.
    : model_(model), meta_(model.metadata()), pool_(model.cuda() ? 1 : threads),
      hostContext_(pool_.hostContext()) {
  if (model.cuda())
    cuda_ = std::make_unique<CudaSessionState>(*model.cuda());
  // Scoring runs once per window and the decode entries once per byte:
  // CUDA replays their plans as graphs (one launch instead of hundreds).
  if (const EntryPoint *score = meta_.findEntry("score"))
    score_ = std::make_unique<EntryCall>(model, *score, &hostContext_,
                                         cuda_.get(), true);
  if (!meta_.hasGeneration)
    return;
  size_t last = meta_.stages.size() - 1;
  stages_.resize(meta_.stages.size());
  for (size_t s = 0; s <= last; ++s) {
    Stage &stage = stages_[s];
    std::string suffix = "_" + std::to_string(s);
    auto bind = [&](const std::string &name) {
      return std::make_unique<EntryCall>(model, *meta_.findEntry(name),
                                         &hostContext_, cuda_.get(), true);
    };
    stage.embed = bind("embed" + suffix);
    stage.unit = stage.embed->buffer<int32_t>("unit");
    stage.embedPosition = stage.embed->buffer<int64_t>("position");
    stage.step = bind("step" + suffix);
    stage.stepPosition = stage.step->buffer<int64_t>("position");
    if (s < last)
      stage.project = bind("project" + suffix);
  }
  head_ = std::make_unique<EntryCall>(model, *meta_.findEntry("head"),
                                      &hostContext_, cuda_.get(), true);
}

//===----------------------------------------------------------------------===//
// Scoring
//===----------------------------------------------------------------------===//

double Session::score(const uint8_t *bytes, size_t size, float *byteLogprobs,
                      float *logprobRows) {
  if (!score_)
    fail(MBRT_ERROR_UNSUPPORTED,
         model_.path() + ": the artifact has no \"score\" entry point");
  checkVocabulary(bytes, size, meta_.vocabSize, "input");
  const EntryPoint &entry = *meta_.findEntry("score");
  const std::vector<int64_t> &shape = entry.args[entry.findArg("bytes")].shape;
  const size_t batch = shape[0], window = shape[1], vocab = meta_.vocabSize;
  int32_t *input = score_->buffer<int32_t>("bytes");

  double totalLogprob = 0.0;
  for (size_t first = 0; first < size; first += batch * window) {
    for (size_t row = 0; row < batch; ++row)
      for (size_t t = 0; t < window; ++t) {
        size_t offset = first + row * window + t;
        input[row * window + t] = offset < size ? bytes[offset] : meta_.padId;
      }
    score_->run();
    const float *logp = score_->output<float>("logp");
    for (size_t row = 0; row < batch; ++row)
      for (size_t t = 0; t < window; ++t) {
        size_t offset = first + row * window + t;
        if (offset >= size)
          break;
        const float *distribution = logp + (row * window + t) * vocab;
        float logprob = distribution[bytes[offset]];
        totalLogprob += logprob;
        if (byteLogprobs)
          byteLogprobs[offset] = logprob;
        if (logprobRows)
          std::memcpy(logprobRows + offset * vocab, distribution,
                      vocab * sizeof(float));
      }
  }
  return size == 0 ? 0.0 : -totalLogprob / (double(size) * std::log(2.0));
}

//===----------------------------------------------------------------------===//
// Generation (docs/runtime.md)
//===----------------------------------------------------------------------===//

void Session::runStage(size_t s, int64_t position, const uint8_t *unitBytes,
                       ContextRow context) {
  Stage &stage = stages_[s];
  const GenerationStage &shape = meta_.stages[s];
  const size_t rowBytes = shape.dim * sizeof(float);
  for (int64_t i = 0; i < shape.units; ++i)
    stage.unit[i] = unitBytes ? unitBytes[i] : 0; // position 0 ignores it
  *stage.embedPosition = position;
  stage.embed->run();
  // On CUDA these stay on the device: copies enqueued after the embedding.
  stage.step->setInput("token", stage.embed.get(), "token", 0, rowBytes);
  stage.step->setInput("context", context.project, "context", context.offset,
                       rowBytes);
  *stage.stepPosition = position;
  if (position == 0)
    stage.step->resetState(); // a new sequence of this stage
  stage.step->run();
}

void Session::project(size_t s) {
  Stage &stage = stages_[s];
  stage.project->setInput("hidden", stage.step.get(), "hidden", 0,
                          meta_.stages[s].dim * sizeof(float));
  stage.project->run();
}

Session::ContextRow Session::contextRow(size_t s, int64_t row) const {
  if (s == 0)
    return {}; // the coarsest stage has no parent: zero context
  return {stages_[s - 1].project.get(),
          size_t(row) * meta_.stages[s].dim * sizeof(float)};
}

/// The head on the last stage's hidden row: the one wait for the device
/// per byte.
const float *Session::head() {
  head_->setInput("hidden", stages_.back().step.get(), "hidden", 0,
                  meta_.stages.back().dim * sizeof(float));
  head_->run();
  return head_->output<float>("logp");
}

/// Positions 0 of every stage; returns log p(x_0).
const float *Session::startSequence() {
  const size_t last = stages_.size() - 1;
  for (size_t s = 0; s <= last; ++s) {
    // With start tokens position 0's context is zero; the paper's position
    // 0 takes ctx_s[0].
    runStage(s, 0, nullptr, meta_.startToken ? ContextRow{} : contextRow(s, 0));
    if (s < last)
      project(s);
  }
  return head();
}

/// Feeds byte t (bytes[t]) and returns log p(x_{t+1} | x_<=t).
const float *Session::feedByte(const std::vector<uint8_t> &bytes, int64_t t) {
  const size_t last = stages_.size() - 1;
  const int64_t next = t + 1;
  const int64_t lastLength = meta_.stages[last].seqLen;
  const float *logp = nullptr;
  if (meta_.startToken) {
    int64_t p = t % lastLength;
    runStage(last, p + 1, &bytes[t], contextRow(last, p));
    logp = head();
  } else if (next % lastLength != 0) {
    int64_t j = next % lastLength;
    runStage(last, j, &bytes[t], contextRow(last, j));
    return head();
  }

  // The coarsest stage whose unit byte t completes steps once; every finer
  // stage starts a new sequence.
  size_t coarsest = 0;
  while (coarsest < last && next % meta_.stages[coarsest].units != 0)
    ++coarsest;
  if (coarsest == last)
    return logp; // only reachable with start tokens: step 1 was enough
  const int64_t units = meta_.stages[coarsest].units;
  const int64_t j = coarsest == 0
                        ? next / units
                        : (next % meta_.stages[coarsest - 1].units) / units;
  const uint8_t *unit = &bytes[next - units];
  ContextRow context =
      meta_.startToken ? contextRow(coarsest, j - 1) : contextRow(coarsest, j);
  runStage(coarsest, j, unit, context);
  project(coarsest);
  for (size_t s = coarsest + 1; s <= last; ++s) {
    runStage(s, 0, nullptr, meta_.startToken ? ContextRow{} : contextRow(s, 0));
    if (s < last)
      project(s);
  }
  // With start tokens x_{t+1} came from step 1 (logp, read before the
  // finer stages restarted); the paper predicts it at the new last-stage
  // sequence's position 0.
  return meta_.startToken ? logp : head();
}

void Session::generate(const uint8_t *prompt, size_t promptSize, size_t count,
                       const mbrt_sampler_options &sampler,
                       mbrt_byte_callback onByte, void *userData,
                       uint8_t *outBytes, size_t &generated) {
  generated = 0;
  if (!meta_.hasGeneration)
    fail(MBRT_ERROR_UNSUPPORTED,
         model_.path() + ": the artifact has no generation entry points");
  if (meta_.vocabSize > 256)
    fail(MBRT_ERROR_UNSUPPORTED,
         "generation needs a byte vocabulary (at most 256 tokens), the model "
         "has " +
             std::to_string(meta_.vocabSize));
  std::string problem = checkSamplerOptions(sampler);
  if (!problem.empty())
    fail(MBRT_ERROR_INVALID_ARGUMENT, "sampler: " + problem);
  checkVocabulary(prompt, promptSize, meta_.vocabSize, "prompt");
  const int64_t maxLength = meta_.maxLength;
  if (int64_t(promptSize) > maxLength)
    fail(MBRT_ERROR_MAX_LENGTH,
         "the prompt of " + std::to_string(promptSize) +
             " bytes is longer than the model's maximum length of " +
             std::to_string(maxLength) + " bytes");
  if (count == 0)
    return;
  if (int64_t(promptSize) == maxLength)
    fail(MBRT_ERROR_MAX_LENGTH,
         "the prompt of " + std::to_string(promptSize) +
             " bytes already fills the model's maximum length of " +
             std::to_string(maxLength) + " bytes; nothing can be generated");

  std::vector<uint8_t> bytes(prompt, prompt + promptSize);
  bytes.reserve(promptSize + count);
  const float *logp = startSequence();
  for (size_t t = 0; t < promptSize; ++t)
    logp = feedByte(bytes, int64_t(t));
  for (;;) {
    const int64_t position = int64_t(bytes.size());
    int32_t token =
        sampleToken(sampler, logp, meta_.vocabSize, position, samplerScratch_);
    bytes.push_back(static_cast<uint8_t>(token));
    if (outBytes)
      outBytes[generated] = static_cast<uint8_t>(token);
    ++generated;
    if (onByte && onByte(userData, static_cast<uint8_t>(token), position))
      return;
    if (generated == count)
      return;
    if (position + 1 >= maxLength)
      fail(MBRT_ERROR_MAX_LENGTH,
           "stopped after " + std::to_string(generated) + " of " +
               std::to_string(count) + " bytes: the sequence (prompt " +
               std::to_string(promptSize) +
               " bytes) reached the model's maximum length of " +
               std::to_string(maxLength) + " bytes");
    logp = feedByte(bytes, position);
  }
}

} // namespace mbrt
