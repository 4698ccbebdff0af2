// The part of asl-validator's API the tests use (the package ships no types).
declare module "asl-validator" {
  interface ValidationResult {
    isValid: boolean;
    errors: { message?: string }[];
    errorsText(separator?: string): string;
  }
  export default function aslValidator(definition: object, opts?: { checkPaths?: boolean; checkArn?: boolean }): ValidationResult;
}
