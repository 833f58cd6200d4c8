//===- MBDialect.td - the mb dialect -----------------------*- tablegen -*-===//
//
// The model-level dialect of mbc: one op per piece of a MEGABYTE model as a
// user thinks of it (patchify, global attention, local attention, the
// global-to-local projection, norms, FFN, embedding, head).
//
//===----------------------------------------------------------------------===//

#ifndef MB_DIALECT_TD
#define MB_DIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def MB_Dialect : Dialect {
  let name = "mb";
  let cppNamespace = "::mbc::mb";
  let summary = "Model-level operations of MEGABYTE multiscale byte transformers";
  let description = [{
    The `mb` dialect describes a MEGABYTE model (Yu et al. 2023, and the
    MEGABYTE-pytorch variant) at the level of its building blocks. Tensors are
    ranked and statically shaped. Sequence activations have the shape
    `[N, S, D]`: N independent sequences (batch x patches for the local
    stages) of S positions of width D. Weights enter through `mb.param`, which
    names a tensor of the model's safetensors file.

    Verifiers check every shape relation and name the offending dimension.
    Passes lower these ops to fused dispatch regions and then to linalg or GPU
    code; the ops themselves carry no target decisions.
  }];
  let useDefaultAttributePrinterParser = 1;
}

class MB_Op<string mnemonic, list<Trait> traits = []>
    : Op<MB_Dialect, mnemonic, traits>;

//===----------------------------------------------------------------------===//
// Enums
//===----------------------------------------------------------------------===//

def MB_ActivationGelu : I32EnumAttrCase<"gelu", 0>;
def MB_ActivationGeluTanh : I32EnumAttrCase<"gelu_tanh", 1>;
def MB_ActivationRelu : I32EnumAttrCase<"relu", 2>;
def MB_ActivationEnum : I32EnumAttr<"Activation", "FFN activation function",
    [MB_ActivationGelu, MB_ActivationGeluTanh, MB_ActivationRelu]> {
  let cppNamespace = "::mbc::mb";
  let genSpecializedAttr = 0;
}
def MB_ActivationAttr : EnumAttr<MB_Dialect, MB_ActivationEnum, "activation"> {
  let assemblyFormat = "`<` $value `>`";
}

def MB_ProjectionShared : I32EnumAttrCase<"shared", 0>;
def MB_ProjectionDense : I32EnumAttrCase<"dense", 1>;
def MB_ProjectionModeEnum : I32EnumAttr<"ProjectionMode",
    "how a coarser stage's output becomes a finer stage's input",
    [MB_ProjectionShared, MB_ProjectionDense]> {
  let cppNamespace = "::mbc::mb";
  let genSpecializedAttr = 0;
}
def MB_ProjectionModeAttr
    : EnumAttr<MB_Dialect, MB_ProjectionModeEnum, "projection"> {
  let assemblyFormat = "`<` $value `>`";
}

def MB_AlignmentShifted : I32EnumAttrCase<"shifted", 0>;
def MB_AlignmentStartToken : I32EnumAttrCase<"start_token", 1>;
def MB_AlignmentEnum : I32EnumAttr<"Alignment",
    "which local position predicts which byte",
    [MB_AlignmentShifted, MB_AlignmentStartToken]> {
  let cppNamespace = "::mbc::mb";
  let genSpecializedAttr = 0;
}
def MB_AlignmentAttr : EnumAttr<MB_Dialect, MB_AlignmentEnum, "alignment"> {
  let assemblyFormat = "`<` $value `>`";
}

#endif // MB_DIALECT_TD
