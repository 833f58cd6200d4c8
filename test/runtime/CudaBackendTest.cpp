//===- CudaBackendTest.cpp - libmbrt's CUDA backend without a GPU ---------===//
//
// The driver is fake_cuda_driver.c (TEST ONLY), selected through
// $MBRT_CUDA_DRIVER; its "device memory" is host memory, so plans of copies,
// fills and its two host-side kernels really compute. The artifacts come
// from make_test_artifact.py --cuda. Nothing here runs on a GPU.
//
//===----------------------------------------------------------------------===//
#include "Model.h"
#include "TestArtifacts.h"
#include "cuda/CudaMetadata.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>

using namespace mbrt_test;
using ::testing::HasSubstr;

namespace {

/// Sets the fake driver's environment for one test and restores it after.
class FakeDriver {
public:
  explicit FakeDriver(const char *mode, const char *arch = "90",
                      const char *library = MBRT_TEST_FAKE_CUDA_DRIVER) {
    ::setenv("MBRT_CUDA_DRIVER", library, 1);
    ::setenv("MBRT_FAKE_CUDA_MODE", mode, 1);
    ::setenv("MBRT_FAKE_CUDA_ARCH", arch, 1);
    ::unsetenv("MBRT_FAKE_CUDA_MEMORY");
  }
  ~FakeDriver() {
    for (const char *name : {"MBRT_CUDA_DRIVER", "MBRT_FAKE_CUDA_MODE",
                             "MBRT_FAKE_CUDA_ARCH", "MBRT_FAKE_CUDA_MEMORY"})
      ::unsetenv(name);
  }

  /// A counter of the loaded fake driver (see fake_cuda_driver.c).
  static long long counter(const char *name) {
    void *library =
        ::dlopen(MBRT_TEST_FAKE_CUDA_DRIVER, RTLD_NOW | RTLD_NOLOAD);
    if (!library)
      return 0; // not loaded yet: nothing counted
    auto read = reinterpret_cast<long long (*)(const char *)>(
        ::dlsym(library, "fake_cuda_counter"));
    long long value = read ? read(name) : -1;
    ::dlclose(library);
    return value;
  }
};

mbrt_model_options deviceOptions(mbrt_device device) {
  mbrt_model_options options = mbrt_model_default_options();
  options.device = device;
  return options;
}

mbrt::CudaImage image(const char *arch, bool cubin) {
  mbrt::CudaImage result;
  EXPECT_TRUE(mbrt::parseCudaArch(arch, result.arch)) << arch;
  result.cubin = cubin;
  return result;
}

//===----------------------------------------------------------------------===//
// Image selection: a pure function of the images and the device's arch.
//===----------------------------------------------------------------------===//

TEST(CudaImageSelection, ParsesArchitectures) {
  mbrt::CudaArch arch;
  ASSERT_TRUE(mbrt::parseCudaArch("sm_90a", arch));
  EXPECT_EQ(arch.capability, 90);
  EXPECT_TRUE(arch.archSpecific);
  EXPECT_EQ(arch.name(), "sm_90a");
  ASSERT_TRUE(mbrt::parseCudaArch("sm_120", arch));
  EXPECT_EQ(arch.capability, 120);
  EXPECT_FALSE(arch.archSpecific);
  for (const char *bad : {"", "sm_", "sm_9", "compute_90", "sm_90b", "sm_090",
                          "sm_1000", "SM_90", "sm_90aa"})
    EXPECT_FALSE(mbrt::parseCudaArch(bad, arch)) << bad;
}

TEST(CudaImageSelection, CubinOfExactlyTheDeviceArchWins) {
  std::vector<mbrt::CudaImage> images = {
      image("sm_80", false), image("sm_90a", true), image("sm_90a", false)};
  std::string problem;
  EXPECT_EQ(mbrt::selectCudaImage(images, 90, problem), 1);
  // An sm_80 cubin does not run on sm_86: the sm_80 PTX is JIT-compiled.
  images = {image("sm_80", true), image("sm_80", false)};
  EXPECT_EQ(mbrt::selectCudaImage(images, 86, problem), 1);
  EXPECT_EQ(mbrt::selectCudaImage(images, 80, problem), 0);
}

TEST(CudaImageSelection, NewestPtxNotAboveTheDevice) {
  std::vector<mbrt::CudaImage> images = {
      image("sm_80", false), image("sm_86", false), image("sm_90", false)};
  std::string problem;
  EXPECT_EQ(mbrt::selectCudaImage(images, 89, problem), 1);
  EXPECT_EQ(mbrt::selectCudaImage(images, 100, problem), 2);
  EXPECT_EQ(mbrt::selectCudaImage(images, 80, problem), 0);
}

TEST(CudaImageSelection, ArchSpecificCodeOnlyOnItsArch) {
  std::vector<mbrt::CudaImage> images = {image("sm_90a", true),
                                         image("sm_90a", false)};
  std::string problem;
  EXPECT_EQ(mbrt::selectCudaImage(images, 90, problem), 0);
  images = {image("sm_90a", false), image("sm_80", false)};
  EXPECT_EQ(mbrt::selectCudaImage(images, 90, problem), 0);
  EXPECT_EQ(mbrt::selectCudaImage(images, 100, problem), 1);
  images = {image("sm_90", false), image("sm_90a", false)};
  EXPECT_EQ(mbrt::selectCudaImage(images, 90, problem), 1);
}

TEST(CudaImageSelection, NothingFitsNamesBothArchitectures) {
  std::vector<mbrt::CudaImage> images = {image("sm_90a", true),
                                         image("sm_90a", false)};
  std::string problem;
  EXPECT_EQ(mbrt::selectCudaImage(images, 100, problem), -1);
  EXPECT_THAT(problem, HasSubstr("architecture sm_100"));
  EXPECT_THAT(problem, HasSubstr("sm_90a cubin, sm_90a ptx"));
  images = {image("sm_90", false)};
  EXPECT_EQ(mbrt::selectCudaImage(images, 86, problem), -1);
  EXPECT_THAT(problem, HasSubstr("sm_86"));
  EXPECT_THAT(problem, HasSubstr("sm_90 ptx"));
}

//===----------------------------------------------------------------------===//
// No driver, no device: MBRT_ERROR_NO_DEVICE, or the CPU with AUTO.
//===----------------------------------------------------------------------===//

void expectNoDevice(const std::string &path, const std::string &fragment) {
  mbrt_model_options options = deviceOptions(MBRT_DEVICE_CUDA);
  std::string message;
  EXPECT_EQ(tryLoad(path, message, &options), MBRT_ERROR_NO_DEVICE) << message;
  EXPECT_THAT(message, HasSubstr("no CUDA device"));
  EXPECT_THAT(message, HasSubstr(fragment));
}

TEST(CudaDriverLoading, MissingLibrary) {
  FakeDriver fake("device", "90", "/nonexistent/libcuda.so.1");
  expectNoDevice(makeArtifact("model.mbx", {"--cuda"}),
                 "the CUDA driver /nonexistent/libcuda.so.1 cannot be loaded");
}

TEST(CudaDriverLoading, InitFails) {
  FakeDriver fake("init-error");
  expectNoDevice(makeArtifact("model.mbx", {"--cuda"}),
                 "cuInit failed: CUDA_ERROR_NO_DEVICE (no CUDA-capable device "
                 "is detected)");
}

TEST(CudaDriverLoading, ZeroDevices) {
  FakeDriver fake("no-devices");
  expectNoDevice(makeArtifact("model.mbx", {"--cuda"}), "reports 0 devices");
}

TEST(CudaDriverLoading, DriverLacksAFunction) {
  FakeDriver fake("device", "90", MBRT_TEST_FAKE_CUDA_DRIVER_OLD);
  expectNoDevice(makeArtifact("model.mbx", {"--cuda"}),
                 "lacks cuTensorMapEncodeTiled");
}

// The toolkit's stub libcuda.so exports the real driver's names (so every
// versioned name CudaDriver resolves exists) and fails cuInit.
TEST(CudaDriverLoading, ResolvesEveryNameInTheRealDriverStub) {
#ifdef MBRT_TEST_CUDA_STUB_DRIVER
  FakeDriver fake("device", "90", MBRT_TEST_CUDA_STUB_DRIVER);
  expectNoDevice(makeArtifact("model.mbx", {"--cuda"}), "cuInit failed: ");
#else
  GTEST_SKIP() << "no CUDA toolkit stub libcuda.so here";
#endif
}

TEST(CudaDriverLoading, NoDeviceComesBeforeTheArtifact) {
  FakeDriver fake("no-devices");
  expectNoDevice("/nonexistent/model.mbx", "reports 0 devices");
}

TEST(CudaDeviceChoice, AutoFallsBackToTheCpu) {
  FakeDriver fake("no-devices");
  std::string path = makeArtifact("model.mbx", {"--cuda"});
  mbrt_model_options options = deviceOptions(MBRT_DEVICE_AUTO);
  mbrt_model *model = nullptr;
  ASSERT_EQ(mbrt_model_load(path.c_str(), &options, &model), MBRT_OK)
      << mbrt_model_error(model);
  EXPECT_EQ(mbrt_model_device(model), MBRT_DEVICE_CPU);
  EXPECT_THAT(mbrt_model_device_description(model),
              HasSubstr("cpu (no CUDA device: "));
  mbrt_model_free(model);
}

TEST(CudaDeviceChoice, AutoWithCudaCodeOnlyAndNoDevice) {
  FakeDriver fake("init-error");
  std::string path =
      makeArtifact("model.mbx", {"--cuda", "--bad-omit", "CPU_CODE"});
  mbrt_model_options options = deviceOptions(MBRT_DEVICE_AUTO);
  std::string message;
  EXPECT_EQ(tryLoad(path, message, &options), MBRT_ERROR_NO_DEVICE);
  EXPECT_THAT(message, HasSubstr("holds CUDA code only (no CPU_CODE section)"));
  EXPECT_THAT(message, HasSubstr("no CUDA device: cuInit failed"));
}

TEST(CudaDeviceChoice, CpuOnCudaCodeOnly) {
  std::string path =
      makeArtifact("model.mbx", {"--cuda", "--bad-omit", "CPU_CODE"});
  mbrt_model_options options = deviceOptions(MBRT_DEVICE_CPU);
  std::string message;
  EXPECT_EQ(tryLoad(path, message, &options), MBRT_ERROR_CODE);
  EXPECT_THAT(message, HasSubstr("no CPU_CODE section"));
}

TEST(CudaDeviceChoice, CudaOnCpuCodeOnly) {
  FakeDriver fake("device");
  std::string path = makeArtifact("model.mbx");
  mbrt_model_options options = deviceOptions(MBRT_DEVICE_CUDA);
  std::string message;
  EXPECT_EQ(tryLoad(path, message, &options), MBRT_ERROR_UNSUPPORTED);
  EXPECT_THAT(message, HasSubstr("no CUDA_CODE section"));
}

TEST(CudaDeviceChoice, AutoPrefersThePresentDevice) {
  FakeDriver fake("device");
  LoadedModel loaded(makeArtifact("model.mbx", {"--cuda"}));
  EXPECT_EQ(mbrt_model_device(loaded.model), MBRT_DEVICE_CUDA);
  EXPECT_STREQ(mbrt_model_device_description(loaded.model),
               "cuda: Fake CUDA Device (sm_90), sm_90a cubin");
}

// NONE (what `mbc-run info` falls back to): the artifact is validated and
// described without a device; no session runs it.
TEST(CudaDeviceChoice, NoneInspectsWithoutADevice) {
  FakeDriver fake("init-error");
  std::string path =
      makeArtifact("model.mbx", {"--cuda", "--bad-omit", "CPU_CODE"});
  mbrt_model_options options = deviceOptions(MBRT_DEVICE_NONE);
  mbrt_model *model = nullptr;
  ASSERT_EQ(mbrt_model_load(path.c_str(), &options, &model), MBRT_OK)
      << mbrt_model_error(model);
  EXPECT_EQ(mbrt_model_device(model), MBRT_DEVICE_NONE);
  EXPECT_STREQ(mbrt_model_device_description(model), "none (inspection only)");
  size_t size = 0;
  EXPECT_NE(mbrt_model_metadata(model, &size), nullptr);
  EXPECT_GT(size, 0u);
  mbrt_session *session = nullptr;
  EXPECT_EQ(mbrt_session_create(model, nullptr, &session),
            MBRT_ERROR_UNSUPPORTED);
  EXPECT_THAT(mbrt_session_error(session),
              HasSubstr("loaded for inspection only (MBRT_DEVICE_NONE)"));
  mbrt_session_free(session);
  mbrt_model_free(model);
}

TEST(CudaDeviceChoice, NoneStillValidatesTheArtifact) {
  std::string path = makeArtifact(
      "model.mbx", {"--cuda", "--meta-set", "cuda.kernels[0].block=[32,1]"});
  mbrt_model_options options = deviceOptions(MBRT_DEVICE_NONE);
  std::string message;
  EXPECT_EQ(tryLoad(path, message, &options), MBRT_ERROR_FORMAT);
  EXPECT_THAT(message,
              HasSubstr("cuda.kernels[0].block: expected 3 integers, got 2"));
}

//===----------------------------------------------------------------------===//
// Malformed META.cuda: rejected on every machine, naming the key.
//===----------------------------------------------------------------------===//

struct MalformedCase {
  std::vector<std::string> options;
  std::vector<std::string> fragments;
};

TEST(CudaMetadata, MalformedVariantsNameTheField) {
  const std::string map = "cuda.plans.score.steps[3].args[0].tensor_map.";
  const std::vector<MalformedCase> cases = {
      {{"--meta-delete", "cuda"}, {"META: cuda: required key is missing"}},
      {{"--meta-set", "cuda=[]"}, {"META: cuda: expected an object"}},
      {{"--meta-set", "cuda.images=[]"}, {"cuda.images: is empty"}},
      {{"--meta-set", "cuda.images[0].arch=\"compute_90\""},
       {"cuda.images[0].arch: expected an architecture", "compute_90"}},
      {{"--meta-set", "cuda.images[0].format=\"fatbin\""},
       {"cuda.images[0].format: expected \"cubin\" or \"ptx\""}},
      {{"--meta-set", "cuda.images[1].offset=100"},
       {"cuda.images[1].offset: 100 is not 64-byte aligned"}},
      {{"--meta-set", "cuda.images[2].size=100000"},
       {"cuda.images[2]: bytes [", ") lie outside the CUDA_CODE section of "}},
      {{"--meta-set", "cuda.images[0].size=\"12\""},
       {"cuda.images[0].size: expected an integer"}},
      {{"--meta-set", "cuda.images[1].arch=\"sm_90a\"", "--meta-set",
        "cuda.images[1].format=\"cubin\""},
       {"cuda.images[1]: a second cubin image for sm_90a"}},
      {{"--meta-set", "targets[1].archs=[\"sm_90a\"]"},
       {"cuda.images[2].arch: sm_80 is not among targets[1].archs"}},
      {{"--meta-set", "targets[1].archs=[\"sm_90a\", 80]"},
       {"targets[1].archs[1]: expected an architecture like \"sm_90a\""}},
      {{"--meta-set", "targets[1].ptx_isa=\"eight\""},
       {"targets[1].ptx_isa: expected a version like \"8.0\""}},
      {{"--meta-set", "cuda.kernels[0].params[1]=\"double\""},
       {"cuda.kernels[0].params[1]: expected \"ptr\""}},
      {{"--meta-set", "cuda.kernels[0].block=[64,32,1]"},
       {"cuda.kernels[0].block: a block of 64 x 32 x 1 exceeds"}},
      {{"--meta-set", "cuda.kernels[0].block=[32,1]"},
       {"cuda.kernels[0].block: expected 3 integers, got 2"}},
      {{"--meta-set", "cuda.kernels[1].name=\"fake_copy_f32\""},
       {"cuda.kernels[1].name: kernel \"fake_copy_f32\" is listed twice"}},
      {{"--meta-set", "cuda.kernels[0].shared_bytes=1000000"},
       {"cuda.kernels[0].shared_bytes: expected an integer in [0, 232448]"}},
      {{"--meta-set", "cuda.kernels[0].registers=-3"},
       {"cuda.kernels[0].registers"}},
      {{"--meta-delete", "cuda.plans.head"},
       {"cuda.plans: entry point \"head\"", "has no plan"}},
      {{"--meta-set", "cuda.plans.nonsense={}"},
       {"cuda.plans.nonsense: there is no entry point \"nonsense\""}},
      {{"--meta-set", "cuda.plans.score.arena_bytes=-1"},
       {"cuda.plans.score.arena_bytes: expected an integer in [0, "}},
      {{"--meta-set", "cuda.plans.score.steps[2].launch=\"missing\""},
       {"cuda.plans.score.steps[2].launch: no kernel \"missing\" in "
        "cuda.kernels"}},
      {{"--meta-set", "cuda.plans.score.steps[2].args=[{\"arg\": 3}]"},
       {"cuda.plans.score.steps[2].args: 1 arguments, but kernel "
        "\"fake_copy_f32\" takes 3 parameters"}},
      {{"--meta-set", "cuda.plans.score.steps[2].args[2]={\"f32\": 1.5}"},
       {"cuda.plans.score.steps[2].args[2]: parameter 2 of kernel "
        "\"fake_copy_f32\" is i64"}},
      {{"--meta-set", "cuda.plans.score.steps[2].args[1]={\"i64\": 4}"},
       {"cuda.plans.score.steps[2].args[1]: parameter 1 of kernel "
        "\"fake_copy_f32\" is ptr"}},
      {{"--meta-set", "cuda.plans.score.steps[2].args[0]={\"arg\": 9}"},
       {"cuda.plans.score.steps[2].args[0].arg: expected an integer in [1, "
        "3], got 9"}},
      {{"--meta-set", "cuda.plans.score.steps[2].args[0]={\"arg\": 0}"},
       {"cuda.plans.score.steps[2].args[0].arg: expected an integer in [1, "
        "3], got 0"}},
      {{"--meta-set", "cuda.plans.score.steps[2].args[0].offset=5000"},
       {"cuda.plans.score.steps[2].args[0]: bytes [5000, 5000) lie outside "
        "argument 3 (\"logp\") of 4096 bytes of entry point \"score\""}},
      {{"--meta-set", "cuda.plans.score.steps[2].grid=[0,1,1]"},
       {"cuda.plans.score.steps[2].grid[0]: expected an integer in [1, "}},
      {{"--meta-set", "cuda.plans.score.steps[2].grid=[1,70000,1]"},
       {"cuda.plans.score.steps[2].grid[1]: expected at most 65535"}},
      {{"--meta-set", "cuda.plans.score.steps[1].fill.bytes=2048"},
       {"cuda.plans.score.steps[1].fill.dst: bytes [0, 2048) lie outside "
        "the arena of arena_bytes 1024"}},
      {{"--meta-set", "cuda.plans.score.steps[0].fill.bytes=6"},
       {"cuda.plans.score.steps[0].fill.bytes: 6 is not a multiple of 4"}},
      {{"--meta-set", "cuda.plans.score.steps[0].fill.value=4294967296"},
       {"cuda.plans.score.steps[0].fill.value"}},
      {{"--meta-set", "cuda.plans.head.steps[0]={\"copy\": {\"dst\": "
                      "{\"arg\": 1}, \"src\": {\"arg\": 2}, \"bytes\": 4}}"},
       {"cuda.plans.head.steps[0].copy.dst.arg: argument 1 is the weight "
        "\"head.dims\", and weights are read-only"}},
      {{"--meta-set", "cuda.plans.head.steps[0].copy={}"},
       {"cuda.plans.head.steps[0]: expected exactly one of \"launch\", "
        "\"copy\" and \"fill\""}},
      {{"--meta-set", "cuda.plans.head.steps[0]={\"fill\": {\"dst\": "
                      "{\"arg\": 3, \"temp\": 0}, \"bytes\": 4, \"value\": "
                      "0}}"},
       {"cuda.plans.head.steps[0].fill.dst: expected {\"arg\": N, "
        "\"offset\": B}, {\"weight\": NAME, \"offset\": B} or "
        "{\"temp\": B}"}},
      {{"--meta-set", "cuda.plans.head.steps[2].args[1]={\"weight\": "
                      "\"nothing\"}"},
       {"cuda.plans.head.steps[2].args[1].weight: \"nothing\" is not in "
        "weights.tensors"}},
      {{"--meta-set", "cuda.plans.head.steps[0].fill.dst={\"weight\": "
                      "\"head.dims\"}"},
       {"cuda.plans.head.steps[0].fill.dst.weight: \"head.dims\" is a "
        "weight, and weights are read-only"}},
      {{"--meta-set", "cuda.plans.head.steps[2].args[1]={\"weight\": "
                      "\"head.dims\", \"offset\": 12}"},
       {"cuda.plans.head.steps[2].args[1]: bytes [12, 12) lie outside the "
        "weight \"head.dims\" of 8 bytes"}},
      {{"--meta-set", map + "swizzle=48"},
       {map + "swizzle: expected 0, 32, 64 or 128, got 48"}},
      {{"--meta-set", map + "strides_bytes=[1000]"},
       {map + "strides_bytes: stride 1000 is not a multiple of 16 bytes"}},
      {{"--meta-set", map + "strides_bytes=[]"},
       {map + "strides_bytes: expected 1 integers, got 0"}},
      {{"--meta-set", map + "dims=[256,5]"},
       {map + "base: bytes [0, 5120) lie outside argument 3 (\"logp\")"}},
      {{"--meta-set", map + "dims=[1,1,1,1,1,1]"},
       {map + "dims: expected 1 to 5 dimensions, got 6"}},
      {{"--meta-set", map + "dtype=\"f64\""},
       {map + "dtype: expected \"bf16\", \"f16\" or \"f32\", got \"f64\""}},
      {{"--meta-set", map + "box=[2,1]"},
       {map + "box: the inner box dimension 2 x 4 bytes is not a multiple "
              "of 16 bytes"}},
      {{"--meta-set", map + "box=[512,1]"},
       {map + "box[0]: expected an integer in [1, 256], got 512"}},
      {{"--meta-set", map + "dims=[256,3]", "--meta-set",
        map + "base={\"arg\": 3, \"offset\": 8}"},
       {map + "base: offset 8 is not 16-byte aligned"}},
  };
  for (const MalformedCase &malformed : cases) {
    std::vector<std::string> options = {"--cuda"};
    options.insert(options.end(), malformed.options.begin(),
                   malformed.options.end());
    std::string path = makeArtifact("model.mbx", options);
    std::string message;
    mbrt_model_options cpu = deviceOptions(MBRT_DEVICE_CPU);
    EXPECT_EQ(tryLoad(path, message, &cpu), MBRT_ERROR_FORMAT)
        << malformed.options.back() << ": " << message;
    for (const std::string &fragment : malformed.fragments)
      EXPECT_THAT(message, HasSubstr(fragment)) << malformed.options.back();
  }
}

TEST(CudaMetadata, WellFormedLoadsOnTheCpu) {
  std::string path = makeArtifact("model.mbx", {"--cuda"});
  mbrt_model_options options = deviceOptions(MBRT_DEVICE_CPU);
  std::string message;
  EXPECT_EQ(tryLoad(path, message, &options), MBRT_OK) << message;
}

//===----------------------------------------------------------------------===//
// Execution on the fake device.
//===----------------------------------------------------------------------===//

TEST(CudaExecution, ScoreRunsThePlan) {
  FakeDriver fake("device");
  LoadedModel loaded(makeArtifact("model.mbx", {"--cuda"}));
  ASSERT_EQ(mbrt_model_device(loaded.model), MBRT_DEVICE_CUDA);
  long long launches = FakeDriver::counter("launches");
  const uint8_t text[] = {'h', 'e', 'l', 'l', 'o'};
  float logprobs[5] = {};
  double bitsPerByte = 0;
  ASSERT_EQ(mbrt_session_score(loaded.session, text, 5, logprobs, nullptr,
                               &bitsPerByte),
            MBRT_OK)
      << mbrt_session_error(loaded.session);
  // Windows of 4 bytes; the plan writes -2 in row 0 of a window, else -1.
  EXPECT_THAT(std::vector<float>(logprobs, logprobs + 5),
              ::testing::ElementsAre(-2.0f, -1.0f, -1.0f, -1.0f, -2.0f));
  EXPECT_NEAR(bitsPerByte, 7.0 / (5 * std::log(2.0)), 1e-9);
  // Two windows of (copy, tensor-map check) launches; score has no graph.
  EXPECT_EQ(FakeDriver::counter("launches") - launches, 4);
}

/// Greedy generation of `count` bytes after `prompt` on a loaded model;
/// the bytes made (fewer when generation failed, which is reported).
std::string generateGreedy(LoadedModel &loaded, const std::string &prompt,
                           size_t count) {
  std::string generated(count, '\0');
  size_t made = 0;
  mbrt_sampler_options sampler = mbrt_sampler_default_options();
  EXPECT_EQ(
      mbrt_session_generate(loaded.session,
                            reinterpret_cast<const uint8_t *>(prompt.data()),
                            prompt.size(), count, &sampler, nullptr, nullptr,
                            reinterpret_cast<uint8_t *>(&generated[0]), &made),
      MBRT_OK)
      << mbrt_session_error(loaded.session);
  generated.resize(made);
  return generated;
}

TEST(CudaExecution, GenerationReplaysGraphs) {
  FakeDriver fake("device");
  long long captures = FakeDriver::counter("captures");
  LoadedModel loaded(makeArtifact("model.mbx", {"--cuda"}));
  // score, embed_0, step_0, project_0, embed_1, step_1, head: one graph
  // each.
  EXPECT_EQ(FakeDriver::counter("captures") - captures, 7);
  long long graphLaunches = FakeDriver::counter("graph_launches");
  // "A" when the last stage's step had a predecessor in its sequence (see
  // make_test_artifact.py): every byte after a prompt, with start tokens.
  EXPECT_EQ(generateGreedy(loaded, "h", 3), "AAA");
  EXPECT_GT(FakeDriver::counter("graph_launches") - graphLaunches, 6);
}

// The derived tensor is its source rounded, bound at its own index.
// On the CPU, whose code never reads them, they are not computed.
TEST(DerivedWeights, ComputedAtLoadEmbeddedAndExternal) {
  FakeDriver fake("device");
  for (std::string mode : {"embedded", "external"}) {
    std::string path = makeArtifact(
        "model.mbx", {"--cuda", "--derive", "score.dims", "--weights", mode});
    mbrt_model_options options = mbrt_model_default_options();
    options.device = MBRT_DEVICE_CPU;
    {
      mbrt::Model onCpu(path, options);
      EXPECT_EQ(onCpu.weight(onCpu.metadata().weights.size() - 1), nullptr);
    }
    options.device = MBRT_DEVICE_CUDA;
    mbrt::Model model(path, options);
    const std::vector<mbrt::WeightTensor> &weights = model.metadata().weights;
    size_t derived = weights.size() - 1;
    ASSERT_TRUE(weights[derived].derived) << mode;
    EXPECT_EQ(weights[derived].name, "score.dims:bf16");
    const mbrt::WeightTensor &source = weights[weights[derived].source];
    EXPECT_EQ(source.name, "score.dims");
    ASSERT_EQ(weights[derived].size, source.size / 2);
    const auto *from =
        static_cast<const float *>(model.weight(weights[derived].source));
    const auto *to = static_cast<const uint8_t *>(model.weight(derived));
    for (size_t i = 0; i < source.size / 4; ++i) {
      uint16_t bits;
      std::memcpy(&bits, to + 2 * i, sizeof bits);
      EXPECT_EQ(bits, mbrt::roundToBf16(from[i])) << mode << " " << i;
      // The dims are small integers: exact in bf16.
      uint32_t widened = uint32_t(bits) << 16;
      float back;
      std::memcpy(&back, &widened, sizeof back);
      EXPECT_EQ(back, from[i]) << mode << " " << i;
    }
  }
}

// A launch reading a weight that is no entry argument ({"weight": NAME}):
// the derived bf16 copy of head.dims ([d, 256] -> bf16 bits 0x4380 in the
// high half of the float the copy kernel reads: about 256) lands in
// logp[66] and "B" wins.
TEST(CudaExecution, LaunchesReadDerivedWeightsByName) {
  FakeDriver fake("device");
  LoadedModel loaded(makeArtifact(
      "model.mbx",
      {"--cuda", "--derive", "head.dims", "--meta-set",
       "cuda.plans.head.steps[2].args[1]={\"weight\": \"head.dims:bf16\"}"}));
  ASSERT_EQ(mbrt_model_device(loaded.model), MBRT_DEVICE_CUDA);
  EXPECT_EQ(generateGreedy(loaded, "h", 3), "BBB");
}

TEST(CudaExecution, DecodingWaitsForTheDeviceOncePerByte) {
  FakeDriver fake("device");
  // 3 patches of 4 bytes: 12 bytes, patch boundaries included.
  LoadedModel loaded(
      makeArtifact("model.mbx", {"--cuda", "--seq-lens", "3,4"}));
  long long waits = FakeDriver::counter("synchronizations");
  long long reads = FakeDriver::counter("device_to_host_copies");
  long long writes = FakeDriver::counter("host_to_device_copies");
  ASSERT_EQ(generateGreedy(loaded, "hi", 6), "AAAAAA");
  // The head's distribution is the only thing the host reads: after the
  // start (1), each prompt byte (2) and each generated byte but the last
  // (5). Embeddings, steps and projections hand their rows on on the
  // device (device-to-device copies), and the host waits only to read.
  const long long heads = 1 + 2 + 5;
  EXPECT_EQ(FakeDriver::counter("device_to_host_copies") - reads, heads);
  EXPECT_EQ(FakeDriver::counter("synchronizations") - waits, heads);
  // What the host writes: each embedding's unit bytes and position, each
  // step's position (2 stages, 2 + 1 inputs per stage and byte at most).
  long long staged = FakeDriver::counter("host_to_device_copies") - writes;
  EXPECT_GT(staged, 0);
  EXPECT_LE(staged, heads * 2 * 3);
}

/// Greedy bytes from the --cuda test plans, which tell a fresh (device-side
/// reset) last-stage sequence ("B") from a continued one ("A").
std::string generateOnFakeDevice(const std::vector<std::string> &options,
                                 const std::string &prompt, size_t count) {
  FakeDriver fake("device");
  LoadedModel loaded(makeArtifact("model.mbx", options));
  return generateGreedy(loaded, prompt, count);
}

TEST(CudaExecution, FreshSequencesStartFromZeroedDeviceCaches) {
  // With start tokens only x_0 comes from a fresh sequence's position 0.
  EXPECT_EQ(generateOnFakeDevice({"--cuda"}, "", 3), "BAA");
  // The paper predicts x_{t+1} at a new last-stage sequence whenever t + 1
  // is a multiple of the last seq_len: x_2 (seq_len 2), x_3 (seq_len 3).
  EXPECT_EQ(
      generateOnFakeDevice({"--cuda", "--architecture", "megabyte"}, "h", 3),
      "ABA");
  EXPECT_EQ(generateOnFakeDevice(
                {"--cuda", "--architecture", "megabyte", "--seq-lens", "2,3"},
                "h", 5),
            "AABAA");
}

TEST(CudaExecution, PtxJitOnANewerDevice) {
  FakeDriver fake("device", "100");
  LoadedModel loaded(makeArtifact("model.mbx", {"--cuda"}));
  EXPECT_STREQ(mbrt_model_device_description(loaded.model),
               "cuda: Fake CUDA Device (sm_100), sm_80 ptx (JIT-compiled)");
}

TEST(CudaExecution, NoImageForTheDevice) {
  FakeDriver fake("device", "75");
  std::string path = makeArtifact("model.mbx", {"--cuda"});
  mbrt_model_options options = deviceOptions(MBRT_DEVICE_AUTO);
  std::string message;
  EXPECT_EQ(tryLoad(path, message, &options), MBRT_ERROR_UNSUPPORTED);
  EXPECT_THAT(message, HasSubstr("no CUDA image runs on this device's "
                                 "architecture sm_75: the artifact has "
                                 "sm_90a cubin, sm_90a ptx, sm_80 ptx"));
}

TEST(CudaExecution, JitErrorCarriesTheLog) {
  FakeDriver fake("device");
  std::string path =
      makeArtifact("model.mbx", {"--cuda", "--cuda-images", "sm_80:ptx",
                                 "--cuda-image-extra", "FAKE_JIT_ERROR"});
  std::string message;
  EXPECT_EQ(tryLoad(path, message), MBRT_ERROR_CODE);
  EXPECT_THAT(message, HasSubstr("CUDA_CODE image sm_80 ptx: "
                                 "cuModuleLoadDataEx failed: "
                                 "CUDA_ERROR_INVALID_PTX"));
  EXPECT_THAT(message, HasSubstr("fake JIT error"));
}

TEST(CudaExecution, ARejectedCubinFallsBackToThePtx) {
  // A driver older than the ptxas that made the cubin rejects it; the
  // artifact's PTX for the device still runs (JIT-compiled).
  FakeDriver fake("device");
  LoadedModel loaded(makeArtifact(
      "model.mbx", {"--cuda", "--cuda-cubin-extra", "FAKE_JIT_ERROR"}));
  EXPECT_STREQ(mbrt_model_device_description(loaded.model),
               "cuda: Fake CUDA Device (sm_90), sm_90a ptx (JIT-compiled) "
               "(the driver rejected the sm_90a cubin)");
  const uint8_t text[] = {'h', 'e', 'l', 'l', 'o'};
  float logprobs[5] = {};
  ASSERT_EQ(
      mbrt_session_score(loaded.session, text, 5, logprobs, nullptr, nullptr),
      MBRT_OK)
      << mbrt_session_error(loaded.session);
  EXPECT_EQ(logprobs[0], -2.0f);
  // Without PTX for the device the cubin's failure is reported; with PTX
  // that fails too, both are.
  std::string path =
      makeArtifact("cubin-only.mbx", {"--cuda", "--cuda-images", "sm_90a:cubin",
                                      "--cuda-cubin-extra", "FAKE_JIT_ERROR"});
  std::string message;
  EXPECT_EQ(tryLoad(path, message), MBRT_ERROR_CODE);
  EXPECT_THAT(message, HasSubstr("CUDA_CODE image sm_90a cubin: "
                                 "cuModuleLoadDataEx failed: "
                                 "CUDA_ERROR_INVALID_PTX"));
  path = makeArtifact("both-bad.mbx",
                      {"--cuda", "--cuda-image-extra", "FAKE_JIT_ERROR"});
  EXPECT_EQ(tryLoad(path, message), MBRT_ERROR_CODE);
  EXPECT_THAT(message, HasSubstr("CUDA_CODE image sm_90a cubin: "));
  EXPECT_THAT(message, HasSubstr("CUDA_CODE image sm_90a ptx: "));
}

TEST(CudaExecution, KernelMissingFromTheImage) {
  FakeDriver fake("device");
  const std::string absentKernel =
      "cuda.kernels[1]={\"name\": \"absent_kernel\", \"params\": "
      "[\"tensor_map\", \"ptr\", \"i64\"], \"block\": [1, 1, 1], "
      "\"shared_bytes\": 0}";
  std::string path = makeArtifact(
      "model.mbx", {"--cuda", "--meta-set", absentKernel, "--meta-set",
                    "cuda.plans.score.steps[3].launch=\"absent_kernel\""});
  std::string message;
  EXPECT_EQ(tryLoad(path, message), MBRT_ERROR_CODE);
  EXPECT_THAT(message, HasSubstr("kernel \"absent_kernel\": "
                                 "cuModuleGetFunction failed: "
                                 "CUDA_ERROR_NOT_FOUND"));
}

TEST(CudaExecution, OutOfDeviceMemoryNamesWhatAndHowMuch) {
  FakeDriver fake("device");
  std::string path = makeArtifact("model.mbx", {"--cuda"});
  ::setenv("MBRT_FAKE_CUDA_MEMORY", "1000", 1);
  std::string message;
  EXPECT_EQ(tryLoad(path, message), MBRT_ERROR_OUT_OF_MEMORY);
  EXPECT_THAT(message, HasSubstr("cannot allocate 1792 bytes of device "
                                 "memory for the weights (7 tensors)"));
  EXPECT_THAT(message, HasSubstr("the device has 1000 of 1000 bytes free"));
  EXPECT_THAT(message, HasSubstr("CUDA_ERROR_OUT_OF_MEMORY"));

  // Enough for the weights, not for the session's arena.
  ::setenv("MBRT_FAKE_CUDA_MEMORY", "2000", 1);
  mbrt_model *model = nullptr;
  ASSERT_EQ(mbrt_model_load(path.c_str(), nullptr, &model), MBRT_OK)
      << mbrt_model_error(model);
  mbrt_session *session = nullptr;
  EXPECT_EQ(mbrt_session_create(model, nullptr, &session),
            MBRT_ERROR_OUT_OF_MEMORY);
  EXPECT_THAT(mbrt_session_error(session),
              HasSubstr("cannot allocate 1024 bytes of device memory for the "
                        "session's arena"));
  EXPECT_THAT(mbrt_session_error(session),
              HasSubstr("the model's weights hold 1792 bytes"));
  mbrt_session_free(session);
  mbrt_model_free(model);
}

/// Device memory, modules, contexts and streams alive in the fake driver.
std::vector<long long> liveDriverObjects() {
  std::vector<long long> live;
  for (const char *name :
       {"live_allocations", "live_bytes", "live_modules", "live_contexts",
        "live_streams", "live_host_allocations"})
    live.push_back(FakeDriver::counter(name));
  return live;
}

TEST(CudaExecution, EverythingIsReturned) {
  FakeDriver fake("device");
  std::string path = makeArtifact("model.mbx", {"--cuda"});
  std::vector<long long> before = liveDriverObjects();
  {
    LoadedModel loaded(path);
    EXPECT_GT(FakeDriver::counter("live_allocations"), before[0]);
  }
  EXPECT_EQ(liveDriverObjects(), before);
  EXPECT_EQ(FakeDriver::counter("live_bytes"), 0);
}

TEST(CudaExecution, NothingLeaksWhenLoadingFails) {
  FakeDriver fake("device");
  std::string path = makeArtifact("model.mbx", {"--cuda"});
  std::vector<long long> before = liveDriverObjects();
  std::string message;
  ::setenv("MBRT_FAKE_CUDA_MEMORY", "1000", 1); // the weights do not fit
  EXPECT_EQ(tryLoad(path, message), MBRT_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(liveDriverObjects(), before);
  ::setenv("MBRT_FAKE_CUDA_MEMORY", "2000", 1); // the session's arena not
  mbrt_model *model = nullptr;
  ASSERT_EQ(mbrt_model_load(path.c_str(), nullptr, &model), MBRT_OK);
  mbrt_session *session = nullptr;
  EXPECT_EQ(mbrt_session_create(model, nullptr, &session),
            MBRT_ERROR_OUT_OF_MEMORY);
  mbrt_session_free(session);
  mbrt_model_free(model);
  EXPECT_EQ(liveDriverObjects(), before);
}

} // namespace
