//===- PtxParse.cpp - TEST ONLY: PTX text to ptxsim's Module --------------===//
//
// A line-aware scanner over the subset of PTX that NVPTX and mbc's inline
// assembly emit: module directives, .entry functions with their parameters,
// .reg/.shared declarations, labels, `{ }` scopes (inline assembly declares
// registers and labels local to one), guarded instructions and their
// operands.
//
//===----------------------------------------------------------------------===//
#include "Ptx.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <functional>
#include <stdexcept>

namespace ptxsim {

unsigned bitsOf(Type type) {
  switch (type) {
  case Type::Pred:
    return 1;
  case Type::B8:
  case Type::U8:
  case Type::S8:
    return 8;
  case Type::B16:
  case Type::U16:
  case Type::S16:
  case Type::F16:
  case Type::BF16:
    return 16;
  case Type::B32:
  case Type::U32:
  case Type::S32:
  case Type::F32:
  case Type::BF16x2:
  case Type::F16x2:
    return 32;
  case Type::B64:
  case Type::U64:
  case Type::S64:
  case Type::F64:
    return 64;
  case Type::None:
    return 0;
  }
  return 0;
}

bool isSigned(Type type) {
  return type == Type::S8 || type == Type::S16 || type == Type::S32 ||
         type == Type::S64;
}

bool isFloat(Type type) {
  return type == Type::F16 || type == Type::F32 || type == Type::F64 ||
         type == Type::BF16 || type == Type::BF16x2 || type == Type::F16x2;
}

namespace {

Type typeNamed(const std::string &name) {
  static const std::map<std::string, Type> types = {
      {"pred", Type::Pred}, {"b8", Type::B8},         {"b16", Type::B16},
      {"b32", Type::B32},   {"b64", Type::B64},       {"u8", Type::U8},
      {"u16", Type::U16},   {"u32", Type::U32},       {"u64", Type::U64},
      {"s8", Type::S8},     {"s16", Type::S16},       {"s32", Type::S32},
      {"s64", Type::S64},   {"f16", Type::F16},       {"f32", Type::F32},
      {"f64", Type::F64},   {"bf16", Type::BF16},     {"bf16x2", Type::BF16x2},
      {"f16x2", Type::F16x2}};
  auto found = types.find(name);
  return found == types.end() ? Type::None : found->second;
}

std::vector<std::string> split(const std::string &text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i)
    if (i == text.size() || text[i] == separator) {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  return parts;
}

std::string trim(const std::string &text) {
  size_t begin = 0, end = text.size();
  while (begin < end && std::isspace(static_cast<unsigned char>(text[begin])))
    ++begin;
  while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1])))
    --end;
  return text.substr(begin, end - begin);
}

/// Splits at `separator` outside (), [] and {}.
std::vector<std::string> splitTopLevel(const std::string &text,
                                       char separator) {
  std::vector<std::string> parts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '(' || c == '[' || c == '{')
      ++depth;
    else if (c == ')' || c == ']' || c == '}')
      --depth;
    else if (c == separator && depth == 0) {
      parts.push_back(trim(text.substr(start, i - start)));
      start = i + 1;
    }
  }
  std::string last = trim(text.substr(start));
  if (!last.empty() || !parts.empty())
    parts.push_back(last);
  return parts;
}

bool isIdentifierChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' ||
         c == '%';
}

/// PTX without its comments, with each character's line kept.
struct Source {
  std::string text;
  std::vector<int> lines;

  explicit Source(const std::string &ptx) {
    int line = 1;
    for (size_t i = 0; i < ptx.size(); ++i) {
      if (ptx.compare(i, 2, "//") == 0) {
        while (i < ptx.size() && ptx[i] != '\n')
          ++i;
      } else if (ptx.compare(i, 2, "/*") == 0) {
        size_t end = ptx.find("*/", i + 2);
        end = end == std::string::npos ? ptx.size() : end + 2;
        for (; i < end; ++i)
          line += ptx[i] == '\n';
        --i;
        continue;
      }
      if (i >= ptx.size())
        break;
      text.push_back(ptx[i]);
      lines.push_back(line);
      line += ptx[i] == '\n';
    }
    lines.push_back(line);
  }
};

class Parser {
public:
  explicit Parser(const std::string &ptx) : source_(ptx) {}

  std::unique_ptr<Module> parse() {
    auto module = std::make_unique<Module>();
    while (true) {
      skipSpace();
      if (at_ >= text().size())
        break;
      // .version, .target and .address_size end at the line's end.
      if (text().compare(at_, 8, ".version") == 0 ||
          text().compare(at_, 7, ".target") == 0 ||
          text().compare(at_, 13, ".address_size") == 0) {
        size_t end = text().find('\n', at_);
        std::string directive = trim(text().substr(at_, end - at_));
        if (directive.rfind(".target", 0) == 0)
          module->target = trim(directive.substr(7));
        at_ = end == std::string::npos ? text().size() : end;
        continue;
      }
      if (text().compare(at_, 7, ".global") == 0 ||
          text().compare(at_, 6, ".const") == 0 ||
          text().compare(at_, 15, ".visible .global") == 0) {
        globalVariable(*module, until(";"));
        expect(';');
        continue;
      }
      std::string statement = until(";{");
      std::vector<std::string> words = split(trim(statement), ' ');
      std::string first = words.empty() ? "" : words[0];
      if (first == ".shared" || first == ".extern") {
        // Module-level shared variables (mbc's extern __dynamic_shmem__0[],
        // or another program's statics). ptxas places them after a
        // kernel's own: they go last here too.
        moduleShared_.push_back(declaration(statement));
        expect(';');
      } else if (statement.find(".entry") != std::string::npos) {
        auto function = entry(statement);
        std::string name = function->name;
        module->functions[name] = std::move(function);
      } else if (statement.find(".func") != std::string::npos) {
        fail("device functions (.func) are not supported by ptxsim");
      } else {
        fail("unsupported module directive '" + trim(statement) + "'");
      }
    }
    return module;
  }

private:
  struct Scope {
    std::map<std::string, int32_t> registers;
    std::map<std::string, int32_t> labels;
    std::vector<std::pair<size_t, std::string>> branches; // unresolved
  };

  const std::string &text() const { return source_.text; }
  int line() const { return source_.lines[std::min(at_, text().size())]; }

  [[noreturn]] void fail(const std::string &message) const {
    throw std::runtime_error("line " + std::to_string(line()) + ": " +
                             message);
  }

  void skipSpace() {
    while (at_ < text().size() &&
           std::isspace(static_cast<unsigned char>(text()[at_])))
      ++at_;
  }

  /// Text up to (not including) the first character of `stops`.
  std::string until(const char *stops) {
    size_t start = at_;
    int depth = 0;
    while (at_ < text().size()) {
      char c = text()[at_];
      if (c == '(')
        ++depth;
      else if (c == ')')
        --depth;
      else if (depth == 0 && std::strchr(stops, c))
        break;
      ++at_;
    }
    if (at_ >= text().size())
      fail("unexpected end of the PTX text");
    return text().substr(start, at_ - start);
  }

  void expect(char c) {
    skipSpace();
    if (at_ >= text().size() || text()[at_] != c)
      fail(std::string("expected '") + c + "'");
    ++at_;
  }

  /// ".shared .align 8 .b8 name[24]" (also .extern, .reg without the
  /// register syntax): the symbol with its size.
  Symbol declaration(const std::string &statement) {
    Symbol symbol;
    uint64_t align = 1, elementBytes = 1, count = 1;
    std::vector<std::string> words;
    for (const std::string &word : split(trim(statement), ' '))
      if (!trim(word).empty())
        words.push_back(trim(word));
    for (size_t i = 0; i < words.size(); ++i) {
      const std::string &word = words[i];
      if (word == ".align" && i + 1 < words.size()) {
        align = std::stoull(words[++i]);
      } else if (word[0] == '.') {
        Type type = typeNamed(word.substr(1));
        if (type != Type::None)
          elementBytes = std::max(1u, bitsOf(type) / 8);
      } else {
        size_t bracket = word.find('[');
        symbol.name = word.substr(0, bracket);
        if (bracket != std::string::npos) {
          std::string inside = word.substr(bracket + 1);
          inside = inside.substr(0, inside.find(']'));
          count = inside.empty() ? 0 : std::stoull(inside);
        }
      }
    }
    if (symbol.name.empty())
      fail("declaration without a name: '" + trim(statement) + "'");
    symbol.size = elementBytes * count;
    symbol.offset = align; // the alignment, until laid out
    return symbol;
  }

  /// ".global .align 64 .b8 name[64] = {0, 0, 128, 63, ...}": the bytes,
  /// in host memory of their own.
  void globalVariable(Module &module, const std::string &statement) {
    size_t equals = statement.find('=');
    std::string declarationText = statement.substr(0, equals);
    for (const char *word : {".visible", ".global", ".const"}) {
      size_t at = declarationText.find(word);
      if (at != std::string::npos)
        declarationText.erase(at, std::strlen(word));
    }
    Symbol symbol = declaration(declarationText);
    uint64_t align = std::max<uint64_t>(symbol.offset, 16);
    unsigned elementBytes = 1;
    for (const std::string &word : split(trim(declarationText), ' ')) {
      Type type = word.size() > 1 ? typeNamed(word.substr(1)) : Type::None;
      if (type != Type::None)
        elementBytes = std::max(1u, bitsOf(type) / 8);
    }
    uint64_t size = std::max<uint64_t>(symbol.size, 1);
    // Over-allocated so the variable can start on its alignment.
    auto storage = std::make_unique<uint8_t[]>(size + align);
    uint8_t *data = storage.get();
    data += (align - reinterpret_cast<uintptr_t>(data) % align) % align;
    std::memset(data, 0, size);
    if (equals != std::string::npos) {
      std::string values = trim(statement.substr(equals + 1));
      if (values.empty() || values.front() != '{' || values.back() != '}')
        fail("unsupported initializer of '" + symbol.name + "'");
      uint64_t offset = 0;
      for (const std::string &item :
           splitTopLevel(values.substr(1, values.size() - 2), ',')) {
        if (offset + elementBytes > size)
          fail("initializer of '" + symbol.name + "' is too long");
        uint64_t value = number(item);
        std::memcpy(data + offset, &value, elementBytes);
        offset += elementBytes;
      }
    }
    symbol.space = Space::Global;
    symbol.offset = reinterpret_cast<uint64_t>(data);
    symbol.size = size;
    module.globals.push_back(std::move(storage));
    module.globalSymbols.push_back(symbol);
    globals_.push_back(symbol);
  }

  std::unique_ptr<Function> entry(const std::string &header) {
    auto function = std::make_unique<Function>();
    for (const Symbol &symbol : globals_)
      function->symbols.push_back(symbol);
    size_t open = header.find('(');
    if (open == std::string::npos)
      fail("expected a parameter list after .entry");
    std::string head = trim(header.substr(0, open));
    function->name = head.substr(head.rfind(' ') + 1);
    size_t close = header.rfind(')');
    for (const std::string &text :
         splitTopLevel(header.substr(open + 1, close - open - 1), ',')) {
      if (text.empty())
        continue;
      Symbol symbol = declaration(text);
      Parameter parameter;
      parameter.name = symbol.name;
      parameter.size = symbol.size;
      // ".param .align 64 .b8 map[128]" aligns the parameter; in
      // ".param .u64 .ptr .align 1 p" the alignment is the pointee's, and
      // the parameter takes its natural alignment.
      bool pointer = text.find(".ptr") != std::string::npos;
      parameter.align = text.find(".align") != std::string::npos && !pointer
                            ? symbol.offset
                            : std::max<uint64_t>(1, symbol.size);
      function->parameterBytes =
          (function->parameterBytes + parameter.align - 1) / parameter.align *
          parameter.align;
      parameter.offset = function->parameterBytes;
      function->parameterBytes += parameter.size;
      function->symbols.push_back(
          {parameter.name, Space::Param, parameter.offset, parameter.size});
      function->parameters.push_back(parameter);
    }
    for (const std::string &directive : splitTopLevel(
             header.substr(close + 1), '\n')) {
      std::string text = trim(directive);
      if (text.rfind(".maxntid", 0) == 0 || text.rfind(".reqntid", 0) == 0) {
        std::vector<std::string> values = split(text.substr(8), ',');
        for (size_t i = 0; i < values.size() && i < 3; ++i)
          function->maxThreads[i] = std::stoul(trim(values[i]));
      }
    }
    size_t moduleBegin = function->symbols.size();
    for (Symbol symbol : moduleShared_) {
      symbol.space = Space::Shared;
      function->symbols.push_back(symbol);
    }
    expect('{');
    body(*function);
    // Shared layout, as ptxas's static shared sizes show it: the kernel's
    // own variables in declaration order (a size-less ".b8 name;" is one
    // byte), then the module's; an extern array without a size
    // (".extern .shared .align 16 .b8 name[];", CUDA's dynamic shared
    // memory) starts where the static variables end and takes none of
    // their bytes: dynamic shared memory follows them.
    uint64_t offset = 0;
    auto place = [&](Symbol &symbol) {
      uint64_t align = symbol.offset;
      offset = (offset + align - 1) / align * align;
      symbol.offset = offset;
      offset += symbol.size;
    };
    std::vector<Symbol *> dynamic;
    auto placeStatic = [&](Symbol &symbol) {
      if (symbol.size == 0)
        dynamic.push_back(&symbol);
      else
        place(symbol);
    };
    for (size_t i = moduleBegin + moduleShared_.size();
         i < function->symbols.size(); ++i)
      placeStatic(function->symbols[i]);
    for (size_t i = moduleBegin; i < moduleBegin + moduleShared_.size(); ++i)
      placeStatic(function->symbols[i]);
    function->staticSharedBytes = offset;
    for (Symbol *symbol : dynamic)
      place(*symbol);
    return function;
  }

  int32_t lookupRegister(const std::string &name) const {
    for (auto scope = scopes_.rbegin(); scope != scopes_.rend(); ++scope) {
      auto found = scope->registers.find(name);
      if (found != scope->registers.end())
        return found->second;
    }
    return -1;
  }

  void declareRegisters(Function &function, const std::string &statement) {
    // ".reg .b32 %r<111>" or ".reg .pred p" or ".reg .b64 %rd1, %rd2"
    std::string rest = trim(statement.substr(4));
    size_t space = rest.find_first_of(" \t");
    if (space == std::string::npos)
      fail("malformed .reg declaration");
    for (const std::string &item : split(trim(rest.substr(space)), ',')) {
      std::string name = trim(item);
      size_t angle = name.find('<');
      if (angle == std::string::npos) {
        scopes_.back().registers[name] = function.registerCount++;
        continue;
      }
      int count = std::stoi(name.substr(angle + 1));
      std::string prefix = name.substr(0, angle);
      for (int i = 0; i < count; ++i)
        scopes_.back().registers[prefix + std::to_string(i)] =
            function.registerCount++;
    }
  }

  void closeScope(Function &function) {
    Scope scope = std::move(scopes_.back());
    scopes_.pop_back();
    for (auto &[index, name] : scope.branches) {
      auto found = scope.labels.find(name);
      if (found != scope.labels.end())
        function.code[index].target = found->second;
      else if (!scopes_.empty())
        scopes_.back().branches.push_back({index, name});
      else
        fail("branch to an undefined label '" + name + "'");
    }
  }

  void body(Function &function) {
    scopes_.assign(1, Scope());
    while (true) {
      skipSpace();
      if (at_ >= text().size())
        fail("unterminated function body");
      char c = text()[at_];
      if (c == '{') {
        ++at_;
        scopes_.emplace_back();
        continue;
      }
      if (c == '}') {
        ++at_;
        closeScope(function);
        if (scopes_.empty())
          return;
        continue;
      }
      // A label: an identifier followed by ':' (not '::').
      size_t end = at_;
      while (end < text().size() && isIdentifierChar(text()[end]))
        ++end;
      if (end > at_ && end < text().size() && text()[end] == ':' &&
          (end + 1 >= text().size() || text()[end + 1] != ':')) {
        scopes_.back().labels[text().substr(at_, end - at_)] =
            static_cast<int32_t>(function.code.size());
        at_ = end + 1;
        continue;
      }
      int statementLine = line();
      std::string statement = trim(until(";"));
      ++at_;
      if (statement.rfind(".reg", 0) == 0) {
        declareRegisters(function, statement);
      } else if (statement.rfind(".shared", 0) == 0) {
        Symbol symbol = declaration(statement);
        symbol.space = Space::Shared;
        function.symbols.push_back(symbol);
      } else if (statement[0] == '.') {
        fail("unsupported declaration '" + statement + "'");
      } else {
        function.code.push_back(instruction(function, statement));
        function.code.back().line = statementLine;
        function.usesWgmma |= function.code.back().op == Op::Wgmma;
      }
    }
  }

  int32_t symbolIndex(const Function &function, const std::string &name) {
    for (size_t i = 0; i < function.symbols.size(); ++i)
      if (function.symbols[i].name == name)
        return static_cast<int32_t>(i);
    return -1;
  }

  uint64_t number(const std::string &text) {
    try {
      if (text.size() > 2 && text[0] == '0' && (text[1] == 'f' || text[1] == 'F'))
        return std::stoull(text.substr(2), nullptr, 16);
      if (text.size() > 2 && text[0] == '0' && (text[1] == 'd' || text[1] == 'D'))
        return std::stoull(text.substr(2), nullptr, 16);
      if (text[0] == '-')
        return static_cast<uint64_t>(std::stoll(text, nullptr, 0));
      return std::stoull(text, nullptr, 0);
    } catch (const std::exception &) {
      fail("bad number '" + text + "'");
    }
  }

  Operand operand(Function &function, const std::string &raw) {
    std::string text = trim(raw);
    Operand result;
    if (text.empty())
      fail("empty operand");
    if (text[0] == '{') {
      result.kind = Operand::Vector;
      for (const std::string &part :
           splitTopLevel(text.substr(1, text.size() - 2), ','))
        result.elements.push_back(operand(function, part));
      return result;
    }
    if (text[0] == '[') {
      result.kind = Operand::Memory;
      std::vector<std::string> parts =
          splitTopLevel(text.substr(1, text.size() - 2), ',');
      std::string address = parts[0];
      for (size_t i = 1; i < parts.size(); ++i) // TMA coordinates
        result.elements = operand(function, parts[i]).elements;
      size_t plus = address.find('+');
      std::string base = trim(address.substr(0, plus));
      if (plus != std::string::npos)
        result.imm = number(trim(address.substr(plus + 1)));
      if (std::isdigit(static_cast<unsigned char>(base[0])) || base[0] == '-') {
        result.imm += number(base);
      } else if ((result.reg = lookupRegister(base)) < 0 &&
                 (result.symbol = symbolIndex(function, base)) < 0) {
        fail("unknown address base '" + base + "'");
      }
      return result;
    }
    if (text[0] == '!') {
      result = operand(function, text.substr(1));
      result.negate = true;
      return result;
    }
    size_t bar = text.find('|');
    if (bar != std::string::npos) {
      result = operand(function, text.substr(0, bar));
      result.reg2 = operand(function, text.substr(bar + 1)).reg;
      return result;
    }
    if (std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '-') {
      result.imm = number(text);
      return result;
    }
    static const std::map<std::string, Special> specials = {
        {"%tid.x", Special::TidX},       {"%tid.y", Special::TidY},
        {"%tid.z", Special::TidZ},       {"%ntid.x", Special::NtidX},
        {"%ntid.y", Special::NtidY},     {"%ntid.z", Special::NtidZ},
        {"%ctaid.x", Special::CtaidX},   {"%ctaid.y", Special::CtaidY},
        {"%ctaid.z", Special::CtaidZ},   {"%nctaid.x", Special::NctaidX},
        {"%nctaid.y", Special::NctaidY}, {"%nctaid.z", Special::NctaidZ},
        {"%laneid", Special::LaneId},    {"%warpid", Special::WarpId},
        {"%dynamic_smem_size", Special::DynamicSmemSize}};
    auto special = specials.find(text);
    if (special != specials.end()) {
      result.kind = Operand::SpecialReg;
      result.special = special->second;
      return result;
    }
    if ((result.reg = lookupRegister(text)) >= 0) {
      result.kind = Operand::Reg;
      return result;
    }
    if ((result.symbol = symbolIndex(function, text)) >= 0) {
      result.kind = Operand::Symbol;
      return result;
    }
    if (text[0] == '%')
      fail("unknown register '" + text + "'");
    result.kind = Operand::Label; // resolved by the branch
    return result;
  }

  Instruction instruction(Function &function, const std::string &statement) {
    Instruction in;
    in.text = statement;
    std::string rest = statement;
    if (rest[0] == '@') {
      size_t space = rest.find_first_of(" \t");
      std::string guard = rest.substr(1, space - 1);
      in.guardNegated = guard[0] == '!';
      if (in.guardNegated)
        guard = guard.substr(1);
      if ((in.guard = lookupRegister(guard)) < 0)
        fail("unknown guard predicate '" + guard + "'");
      rest = trim(rest.substr(space));
    }
    size_t space = rest.find_first_of(" \t");
    std::string opcode = rest.substr(0, space);
    std::string operandText =
        space == std::string::npos ? "" : trim(rest.substr(space));
    std::vector<std::string> parts = split(opcode, '.');
    decode(in, parts);
    if (!operandText.empty())
      for (const std::string &part : splitTopLevel(operandText, ','))
        in.operands.push_back(operand(function, part));
    if (in.op == Op::Bra) {
      if (in.operands.size() != 1 || in.operands[0].kind != Operand::Label)
        fail("bra needs one label");
      scopes_.back().branches.push_back(
          {function.code.size(), trim(operandText)});
    }
    return in;
  }

  /// The opcode's words: operation, state space, types and modifiers.
  void decode(Instruction &in, const std::vector<std::string> &parts) {
    static const std::map<std::string, Op> simple = {
        {"mov", Op::Mov},   {"add", Op::Add},     {"sub", Op::Sub},
        {"mul", Op::Mul},   {"mad", Op::Mad},     {"fma", Op::Fma},
        {"div", Op::Div},   {"rem", Op::Rem},     {"neg", Op::Neg},
        {"abs", Op::Abs},   {"min", Op::Min},     {"max", Op::Max},
        {"and", Op::And},   {"or", Op::Or},       {"xor", Op::Xor},
        {"not", Op::Not},   {"shl", Op::Shl},     {"shr", Op::Shr},
        {"bfe", Op::Bfe},   {"selp", Op::Selp},   {"setp", Op::Setp},
        {"cvt", Op::Cvt},   {"cvta", Op::Cvta},   {"ld", Op::Ld},
        {"st", Op::St},     {"rcp", Op::Rcp},     {"sqrt", Op::Sqrt},
        {"rsqrt", Op::Rsqrt}, {"ex2", Op::Ex2},   {"lg2", Op::Lg2},
        {"bra", Op::Bra},   {"ret", Op::Ret},     {"exit", Op::Ret},
        {"shfl", Op::Shfl}, {"mma", Op::Mma},     {"ldmatrix", Op::Ldmatrix},
        {"prefetch", Op::Nop}, {"setmaxnreg", Op::Nop}, {"fence", Op::Nop},
        {"membar", Op::Nop}};
    const std::string &name = parts[0];
    std::string joined;
    for (size_t i = 1; i < parts.size(); ++i)
      joined += "." + parts[i];
    auto has = [&](const char *word) {
      for (size_t i = 1; i < parts.size(); ++i)
        if (parts[i] == word)
          return true;
      return false;
    };
    if (name == "bar" || name == "barrier") {
      in.op = has("arrive") ? Op::BarArrive : Op::Bar;
      return;
    }
    if (name == "fence" && has("proxy") &&
        joined.find(".async") != std::string::npos) {
      in.op = Op::FenceProxyAsync;
      return;
    }
    if (name == "cp") {
      if (joined.rfind(".async.bulk.tensor.", 0) == 0 &&
          joined.find(".global.tile.mbarrier::complete_tx::bytes") !=
              std::string::npos) {
        in.op = Op::CpAsyncBulkTensor;
        in.shape = parts[4][0] - '0';
      } else if (joined == ".async.commit_group") {
        in.op = Op::CpAsyncCommit;
      } else if (joined == ".async.wait_group" || joined == ".async.wait_all") {
        in.op = Op::CpAsyncWait;
        in.flag = joined == ".async.wait_all";
      } else if (joined.rfind(".async.c", 0) == 0 &&
                 joined.find(".shared.global") != std::string::npos) {
        in.op = Op::CpAsync;
      } else {
        fail("unsupported copy 'cp" + joined + "'");
      }
      return;
    }
    if (name == "mbarrier") {
      if (has("init"))
        in.op = Op::MbarrierInit;
      else if (has("arrive"))
        in.op = Op::MbarrierArrive, in.flag = has("expect_tx");
      else if (has("try_wait") && has("parity"))
        in.op = Op::MbarrierTryWaitParity;
      else
        fail("unsupported 'mbarrier" + joined + "'");
      if (!has("shared"))
        fail("mbarrier operations on non-shared addresses are not supported");
      return;
    }
    if (name == "wgmma") {
      if (has("mma_async")) {
        in.op = Op::Wgmma;
        for (const std::string &part : parts)
          if (part.rfind("m64n", 0) == 0)
            in.shape = std::stoi(part.substr(4));
        in.type = has("f16") ? Type::F16 : Type::BF16;
        if (!has("f32") || (!has("bf16") && !has("f16")))
          fail("unsupported wgmma types '" + joined + "'");
      } else if (has("commit_group")) {
        in.op = Op::WgmmaCommit;
      } else if (has("wait_group")) {
        in.op = Op::WgmmaWait;
      } else {
        in.op = Op::Nop; // wgmma.fence: ptxsim orders register accesses
      }
      return;
    }
    auto found = simple.find(name);
    if (found == simple.end())
      fail("unsupported instruction '" + name + joined + "'");
    in.op = found->second;
    static const char *compares[] = {"eq",  "ne",  "lt",  "le",  "gt",  "ge",
                                     "lo",  "ls",  "hi",  "hs",  "equ", "neu",
                                     "ltu", "leu", "gtu", "geu", "num", "nan"};
    std::vector<Type> types;
    for (size_t i = 1; i < parts.size(); ++i) {
      const std::string &part = parts[i];
      Type type = typeNamed(part);
      if (type != Type::None) {
        types.push_back(type);
      } else if (part == "global") {
        in.space = Space::Global;
      } else if (part == "shared" || part == "shared::cta" ||
                 part == "shared::cluster") {
        in.space = Space::Shared;
      } else if (part == "param") {
        in.space = Space::Param;
      } else if (part == "v2" || part == "v4") {
        in.vector = part[1] - '0';
      } else if (part == "x1" || part == "x2" || part == "x4") {
        in.shape = part[1] - '0';
      } else if (part == "wide") {
        in.flag = true;
      } else if (part == "trans") {
        in.flag = true;
      } else if (part == "hi") {
        in.hi = true;
      } else if (part == "NaN") {
        in.nanPropagating = true;
      } else if (part == "to") {
        in.flag = true; // cvta.to
      } else if (part == "rn" || part == "rz" || part == "rm" ||
                 part == "rp" || part == "rni" || part == "rzi" ||
                 part == "rmi" || part == "rpi") {
        in.cmp = part;
      } else if (part == "up" || part == "down" || part == "bfly" ||
                 part == "idx") {
        in.cmp = part;
      } else if (std::find(std::begin(compares), std::end(compares), part) !=
                 std::end(compares)) {
        in.cmp = part;
      }
      // Everything else (.sync, .aligned, .approx, .ftz, .lo, .uni, .m8n8,
      // .m16n8k16, .row, .col, cache hints, ...) does not change what ptxsim
      // computes; shapes and layouts are checked where they matter.
    }
    if (in.op == Op::Cvt && types.size() == 2) {
      in.type = types[0];
      in.source = types[1];
    } else if (!types.empty()) {
      in.type = types.back();
      if (in.op == Op::Mma) {
        // mma.sync.aligned.m16n8k16.row.col.f32.{bf16|f16}.{bf16|f16}.f32
        if (joined.find(".m16n8k16.row.col.f32.") == std::string::npos)
          fail("unsupported mma shape or layout 'mma" + joined + "'");
        in.type = types[1];
      }
    }
    if (in.op == Op::Cvt && types.size() != 2)
      fail("cvt needs two types");
    if (in.op == Op::Ldmatrix && (!in.shape || in.space != Space::Shared))
      fail("unsupported 'ldmatrix" + joined + "'");
  }

  Source source_;
  size_t at_ = 0;
  std::vector<Scope> scopes_;
  std::vector<Symbol> moduleShared_;
  std::vector<Symbol> globals_;
};

} // namespace

std::unique_ptr<Module> parseModule(const std::string &text) {
  std::unique_ptr<Module> module = Parser(text).parse();
  return module;
}

} // namespace ptxsim
