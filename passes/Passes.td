//===- Passes.td - mbc's passes ----------------------------*- tablegen -*-===//

#ifndef MBC_PASSES_TD
#define MBC_PASSES_TD

include "mlir/Pass/PassBase.td"

def InlineWeights : Pass<"mb-inline-weights", "mlir::ModuleOp"> {
  let summary = "inline the model's weights into mb.param ops";
  let description = [{
    Reads the safetensors file `weights` and attaches every `mb.param`'s
    tensor as a `dense_resource` value, so the module no longer depends on
    the file. Fails, naming the parameter, when a tensor is missing or its
    shape or dtype differs from the op's result type.
  }];
  let options = [
    Option<"weights", "weights", "std::string", /*default=*/"",
           "path of the safetensors file holding the weights">,
  ];
  let dependentDialects = ["::mbc::mb::MBDialect"];
}

#endif // MBC_PASSES_TD
