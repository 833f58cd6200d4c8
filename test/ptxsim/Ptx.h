//===- Ptx.h - TEST ONLY: ptxsim's parsed PTX -------------------*- C++ -*-===//
//
// ptxsim interprets the PTX that mbc generates so that the tests can run the
// generated kernels, through the runtime's CUDA backend, on a machine without
// a GPU (test/runtime/fake_cuda_driver.c, MBRT_FAKE_CUDA_MODE=simulate). It
// understands the subset of PTX that LLVM's NVPTX backend and mbc's inline
// assembly produce; anything else is rejected with the line it is on.
//
// Never part of the product: it measures nothing about speed, and what it
// says about correctness is bounded by its reading of the PTX ISA (the
// fragment layouts are in Fragments.cpp, written apart from the kernel
// builders).
//
//===----------------------------------------------------------------------===//
#ifndef MBC_TEST_PTXSIM_PTX_H
#define MBC_TEST_PTXSIM_PTX_H

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ptxsim {

enum class Op : uint8_t {
  Mov,
  Add,
  Sub,
  Mul,
  Mad,
  Fma,
  Div,
  Rem,
  Neg,
  Abs,
  Min,
  Max,
  And,
  Or,
  Xor,
  Not,
  Shl,
  Shr,
  Bfe,
  Selp,
  Setp,
  Cvt,
  Cvta,
  Ld,
  St,
  Rcp,
  Sqrt,
  Rsqrt,
  Ex2,
  Lg2,
  Bra,
  Ret,
  Bar,
  BarArrive,
  Shfl,
  Mma,
  Ldmatrix,
  CpAsync,
  CpAsyncCommit,
  CpAsyncWait,
  CpAsyncBulkTensor,
  MbarrierInit,
  MbarrierArrive,
  MbarrierTryWaitParity,
  Wgmma,
  WgmmaCommit,
  WgmmaWait,
  FenceProxyAsync,
  Nop
};

/// Operand types of an instruction (.b32, .f32, ...).
enum class Type : uint8_t {
  None, Pred, B8, B16, B32, B64, U8, U16, U32, U64, S8, S16, S32, S64, F16,
  F32, F64, BF16, BF16x2, F16x2
};
unsigned bitsOf(Type type);
bool isSigned(Type type);
bool isFloat(Type type);

enum class Space : uint8_t { Generic, Global, Shared, Param };

enum class Special : uint8_t {
  TidX, TidY, TidZ, NtidX, NtidY, NtidZ, CtaidX, CtaidY, CtaidZ, NctaidX,
  NctaidY, NctaidZ, LaneId, WarpId, DynamicSmemSize
};

struct Operand {
  enum Kind : uint8_t { Reg, Imm, SpecialReg, Symbol, Memory, Vector, Label };
  Kind kind = Imm;
  bool negate = false;  // !%p
  int32_t reg = -1;     // Reg; Memory: base register or -1
  int32_t reg2 = -1;    // "d|p": the predicate destination
  int32_t symbol = -1;  // Symbol; Memory: base symbol or -1
  uint64_t imm = 0;     // Imm: the bits; Memory/Symbol: byte offset
  Special special = Special::TidX;
  std::vector<Operand> elements; // Vector; Memory: TMA coordinates
};

struct Instruction {
  Op op = Op::Nop;
  Type type = Type::None, source = Type::None; // cvt: destination, source
  Space space = Space::Generic;
  std::string cmp;        // setp's comparison; shfl's mode; cvt's rounding
  unsigned vector = 1;    // .v2 / .v4
  bool flag = false;      // mul.wide, ldmatrix.trans, cp.async zero-fill
  bool hi = false;        // mul.hi
  bool nanPropagating = false; // max.NaN
  int shape = 0;          // ldmatrix .x1/.x2/.x4; wgmma N; tensor rank
  int32_t guard = -1;     // predicate register, or -1
  bool guardNegated = false;
  int32_t target = -1;    // bra: instruction index
  std::vector<Operand> operands;
  int line = 0;
  std::string text; // for messages
};

struct Symbol {
  std::string name;
  Space space = Space::Shared;
  uint64_t offset = 0; // in the shared window or the parameter buffer
  uint64_t size = 0;
};

struct Parameter {
  std::string name;
  uint64_t offset = 0, size = 0, align = 1;
};

struct Function {
  std::string name;
  std::vector<Parameter> parameters;
  uint64_t parameterBytes = 0;
  std::vector<Symbol> symbols; // parameters and shared variables
  uint64_t staticSharedBytes = 0;
  unsigned maxThreads[3] = {0, 0, 0}; // .maxntid / .reqntid, 0: none
  int registerCount = 0;
  bool usesWgmma = false;
  std::vector<Instruction> code;
};

struct Module {
  std::string target; // "sm_90a"
  std::map<std::string, std::unique_ptr<Function>> functions;
  /// Module-level .global/.const variables: host memory (device memory is
  /// host memory here), their symbols' offsets are these addresses.
  std::vector<std::unique_ptr<uint8_t[]>> globals;
  std::vector<Symbol> globalSymbols;
};

/// Parses PTX text; throws std::runtime_error("line N: ...") on what it
/// does not understand.
std::unique_ptr<Module> parseModule(const std::string &text);

} // namespace ptxsim

#endif // MBC_TEST_PTXSIM_PTX_H
