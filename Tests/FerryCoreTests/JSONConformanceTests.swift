import FerryCore
import Foundation
import Testing

/// A named input of the conformance corpus, in the manner of the public JSONTestSuite:
/// `y_` must be accepted, `n_` must be refused.
///
/// The text is written as a Swift string in which `%XX` stands for the raw byte `0xXX`, so
/// that bytes that are not UTF-8 can be written; no case uses a literal `%`.
struct JSONCase: Sendable, CustomTestStringConvertible {
    var name: String
    var bytes: [UInt8]

    init(_ name: String, _ text: String) {
        self.name = name
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "%"), utf8.count >= 2,
                let value = UInt8(String(decoding: utf8.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        self.bytes = bytes
    }

    init(_ name: String, bytes: [UInt8]) {
        self.name = name
        self.bytes = bytes
    }

    var testDescription: String { name }
}

/// Must be accepted (RFC 8259).
private let accepted: [JSONCase] = [
    // Structure and whitespace.
    JSONCase("y_array_empty", "[]"),
    JSONCase("y_array_empty_string", #"[""]"#),
    JSONCase("y_array_arraysWithSpaces", "[[]   ]"),
    JSONCase("y_array_false", "[false]"),
    JSONCase("y_array_heterogeneous", #"[null, 1, "1", {}]"#),
    JSONCase("y_array_null", "[null]"),
    JSONCase("y_array_with_1_and_newline", "[1\n]"),
    JSONCase("y_array_with_leading_space", " [1]"),
    JSONCase("y_array_with_several_null", "[1,null,null,null,2]"),
    JSONCase("y_array_with_trailing_space", "[2] "),
    JSONCase("y_structure_whitespace_all_four_kinds", "\t\n\r [\t\n\r 1\t\n\r ,\t\n\r 2\t\n\r ]\t\n\r "),
    JSONCase("y_structure_trailing_newline", "[\"a\"]\n"),
    JSONCase("y_structure_true_in_array", "[true]"),
    JSONCase("y_structure_whitespace_array", " [] "),
    JSONCase("y_structure_nested_mixed", #"{"a":[{"b":[[],{}]},[null]],"c":{"d":{"e":[1,[2,[3]]]}}}"#),
    // Top-level scalars (RFC 8259 allows any value).
    JSONCase("y_structure_lonely_false", "false"),
    JSONCase("y_structure_lonely_true", "true"),
    JSONCase("y_structure_lonely_null", "null"),
    JSONCase("y_structure_lonely_int", "42"),
    JSONCase("y_structure_lonely_negative_real", "-0.1"),
    JSONCase("y_structure_lonely_string", #""asd""#),
    JSONCase("y_structure_string_empty", #""""#),
    JSONCase("y_structure_lonely_int_surrounded_by_whitespace", " \n 7 \r\n"),
    // Objects.
    JSONCase("y_object_basic", #"{"asd":"sdf"}"#),
    JSONCase("y_object_duplicated_key", #"{"a":"b","a":"c"}"#),
    JSONCase("y_object_duplicated_key_and_value", #"{"a":"b","a":"b"}"#),
    JSONCase("y_object_empty", "{}"),
    JSONCase("y_object_empty_key", #"{"":0}"#),
    JSONCase("y_object_escaped_null_in_key", #"{"foo\u0000bar": 42}"#),
    JSONCase("y_object_escaped_key", #"{"\u0061\n": 1}"#),
    JSONCase("y_object_non_ascii_key", #"{"clé":"valeur","🚀":1}"#),
    JSONCase("y_object_extreme_numbers", #"{ "min": -1.0e+28, "max": 1.0e+28 }"#),
    JSONCase("y_object_simple", #"{"a":[]}"#),
    JSONCase(
        "y_object_string_unicode",
        #"{"title":"\u041f\u043e\u043b\u0442\u043e\u0440\u0430 \u0417\u0435\u043c\u043b\u0435\u043a\u043e\u043f\u0430" }"#
    ),
    JSONCase("y_object_with_newlines", "{\n\"a\": \"b\"\n}"),
    // Numbers.
    JSONCase("y_number", "[123e65]"),
    JSONCase("y_number_0e+1", "[0e+1]"),
    JSONCase("y_number_0e1", "[0e1]"),
    JSONCase("y_number_after_space", "[ 4]"),
    JSONCase(
        "y_number_double_close_to_zero",
        "[-0.000000000000000000000000000000000000000000000000000000000000000000000000000001]"
    ),
    JSONCase("y_number_int_with_exp", "[20e1]"),
    JSONCase("y_number_minus_zero", "[-0]"),
    JSONCase("y_number_negative_zero_real", "[-0.0]"),
    JSONCase("y_number_negative_int", "[-123]"),
    JSONCase("y_number_negative_one", "[-1]"),
    JSONCase("y_number_real_capital_e", "[1E22]"),
    JSONCase("y_number_real_capital_e_neg_exp", "[1E-2]"),
    JSONCase("y_number_real_capital_e_pos_exp", "[1E+2]"),
    JSONCase("y_number_real_exponent", "[123e45]"),
    JSONCase("y_number_real_fraction_exponent", "[123.456e78]"),
    JSONCase("y_number_real_neg_exp", "[1e-2]"),
    JSONCase("y_number_real_pos_exponent", "[1e+2]"),
    JSONCase("y_number_simple_int", "[123]"),
    JSONCase("y_number_simple_real", "[123.456789]"),
    JSONCase("y_number_zero", "[0]"),
    JSONCase("y_number_zero_fraction", "[0.0]"),
    JSONCase("y_number_int64_max", "[9223372036854775807]"),
    JSONCase("y_number_int64_min", "[-9223372036854775808]"),
    JSONCase("y_number_just_above_int64", "[9223372036854775808]"),
    JSONCase("y_number_huge_int", "[100000000000000000000000000000000000000000000]"),
    JSONCase("y_number_very_big_negative_int", "[-237462374673276894279832749832423479823246327846]"),
    JSONCase("y_number_tiny_exponent_underflows_to_zero", "[1e-999]"),
    JSONCase("y_number_largest_double", "[1.7976931348623157e308]"),
    JSONCase("y_number_many_digits_fraction", "[3.141592653589793238462643383279502884197169399375105820974944]"),
    // Strings.
    JSONCase("y_string_1_2_3_bytes_UTF-8_sequences", #"["\u0060\u012a\u12AB"]"#),
    JSONCase("y_string_accepted_surrogate_pair", #"["\uD801\udc37"]"#),
    JSONCase("y_string_accepted_surrogate_pairs", #"["\ud83d\ude39\ud83d\udc8d"]"#),
    JSONCase("y_string_allowed_escapes", #"["\"\\\/\b\f\n\r\t"]"#),
    JSONCase("y_string_backslash_and_u_escaped_zero", #"["\\u0000"]"#),
    JSONCase("y_string_backslash_doublequotes", #"["\""]"#),
    JSONCase("y_string_comments", #"["a/*b*/c/*d//e"]"#),
    JSONCase("y_string_double_escape_a", #"["\\a"]"#),
    JSONCase("y_string_double_escape_n", #"["\\n"]"#),
    JSONCase("y_string_escaped_control_character", #"["\u0012"]"#),
    JSONCase("y_string_escaped_noncharacter", #"["\uFFFF"]"#),
    JSONCase("y_string_in_array", #"["asd"]"#),
    JSONCase("y_string_last_surrogates_1_and_2", #"["\uDBFF\uDFFF"]"#),
    JSONCase("y_string_nbsp_uescaped", #"["new\u00A0line"]"#),
    JSONCase("y_string_nonCharacterInUTF-8_U+10FFFF", #"["%F4%8F%BF%BF"]"#),
    JSONCase("y_string_nonCharacterInUTF-8_U+FFFF", #"["%EF%BF%BF"]"#),
    JSONCase("y_string_null_escape", #"["\u0000"]"#),
    JSONCase("y_string_one-byte-utf-8", #"["\u002c"]"#),
    JSONCase("y_string_pi", #"["π"]"#),
    JSONCase("y_string_reservedCharacterInUTF-8_U+1BFFF", #"["%F0%9B%BF%BF"]"#),
    JSONCase("y_string_simple_ascii", #"["asd "]"#),
    JSONCase("y_string_space", #"" ""#),
    JSONCase("y_string_three-byte-utf-8", #"["\u0821"]"#),
    JSONCase("y_string_two-byte-utf-8", #"["\u0123"]"#),
    JSONCase("y_string_u+2028_line_sep", #"["%E2%80%A8"]"#),
    JSONCase("y_string_u+2029_par_sep", #"["%E2%80%A9"]"#),
    JSONCase("y_string_uEscape", #"["\u0061\u30af\u30EA\u30b9"]"#),
    JSONCase("y_string_unescaped_char_delete", #"["%7F"]"#),
    JSONCase("y_string_unicode_U+FDD0_nonchar", #"["\uFDD0"]"#),
    JSONCase("y_string_unicode_escaped_double_quote", #"["\u0022"]"#),
    JSONCase("y_string_utf8", #"["€𝄞"]"#),
    JSONCase("y_string_with_del_character", #"["a%7Fa"]"#),
    JSONCase("y_string_escapes_beside_raw_utf8", #"["é\n🚀\u00e9"]"#),
    JSONCase("y_string_largest_code_point_raw", #"["%F4%8F%BF%BF\uDBFF\uDFFF"]"#),
    // Depth: Ferry reads up to 512 nested arrays and objects.
    JSONCase("y_structure_512_nested_arrays", String(repeating: "[", count: 512) + String(repeating: "]", count: 512)),
    JSONCase(
        "y_structure_512_nested_objects",
        String(repeating: #"{"a":"#, count: 511) + "{}" + String(repeating: "}", count: 511)
    ),
]

/// Must be refused: RFC 8259 forbids them, or (marked `ferry`) JSONTestSuite leaves them to
/// the implementation and Ferry refuses them, because a Swift `String` cannot hold them or
/// they could not be written back as read.
private let refused: [JSONCase] = [
    // Empty input and whitespace only.
    JSONCase("n_structure_no_data", ""),
    JSONCase("n_single_space", " "),
    JSONCase("n_structure_whitespace_only", "\n\t\r "),
    // Arrays.
    JSONCase("n_array_1_true_without_comma", "[1 true]"),
    JSONCase("n_array_colon_instead_of_comma", #"["": 1]"#),
    JSONCase("n_array_comma_after_close", #"[""],"#),
    JSONCase("n_array_comma_and_number", "[,1]"),
    JSONCase("n_array_double_comma", "[1,,2]"),
    JSONCase("n_array_double_extra_comma", #"["x",,]"#),
    JSONCase("n_array_extra_close", #"["x"]]"#),
    JSONCase("n_array_extra_comma", #"["",]"#),
    JSONCase("n_array_incomplete", #"["x""#),
    JSONCase("n_array_incomplete_invalid_value", "[x"),
    JSONCase("n_array_inner_array_no_comma", "[3[4]]"),
    JSONCase("n_array_invalid_utf8", "[%FF]"),
    JSONCase("n_array_items_separated_by_semicolon", "[1:2]"),
    JSONCase("n_array_just_comma", "[,]"),
    JSONCase("n_array_just_minus", "[-]"),
    JSONCase("n_array_missing_value", #"[   , ""]"#),
    JSONCase("n_array_newlines_unclosed", "[\"a\",\n4\n,1,"),
    JSONCase("n_array_number_and_comma", "[1,]"),
    JSONCase("n_array_number_and_several_commas", "[1,,]"),
    JSONCase("n_array_spaces_vertical_tab_formfeed", "[\"%0Ba\"\u{0C}]"),
    JSONCase("n_array_star_inside", "[*]"),
    JSONCase("n_array_unclosed", #"[""#),
    JSONCase("n_array_unclosed_trailing_comma", "[1,"),
    JSONCase("n_array_unclosed_with_new_lines", "[1,\n1\n,1"),
    JSONCase("n_array_unclosed_with_object_inside", "[{}"),
    // Literals.
    JSONCase("n_incomplete_false", "[fals]"),
    JSONCase("n_incomplete_null", "[nul]"),
    JSONCase("n_incomplete_true", "[tru]"),
    JSONCase("n_structure_capitalized_True", "[True]"),
    JSONCase("n_structure_capitalized_NULL", "[NULL]"),
    JSONCase("n_literal_with_trailing_letters", "[truex]"),
    JSONCase("n_literal_truncated_at_end", "nul"),
    // Numbers.
    JSONCase("n_number_++", "[++1234]"),
    JSONCase("n_number_+1", "[+1]"),
    JSONCase("n_number_+Inf", "[+Inf]"),
    JSONCase("n_number_-01", "[-01]"),
    JSONCase("n_number_-1.0.", "[-1.0.]"),
    JSONCase("n_number_-2.", "[-2.]"),
    JSONCase("n_number_-NaN", "[-NaN]"),
    JSONCase("n_number_.-1", "[.-1]"),
    JSONCase("n_number_.2e-3", "[.2e-3]"),
    JSONCase("n_number_0.1.2", "[0.1.2]"),
    JSONCase("n_number_0.3e+", "[0.3e+]"),
    JSONCase("n_number_0.3e", "[0.3e]"),
    JSONCase("n_number_0.e1", "[0.e1]"),
    JSONCase("n_number_0_capital_E+", "[0E+]"),
    JSONCase("n_number_0_capital_E", "[0E]"),
    JSONCase("n_number_0e+", "[0e+]"),
    JSONCase("n_number_0e", "[0e]"),
    JSONCase("n_number_1.0e+", "[1.0e+]"),
    JSONCase("n_number_1.0e-", "[1.0e-]"),
    JSONCase("n_number_1.0e", "[1.0e]"),
    JSONCase("n_number_1_000", "[1 000.0]"),
    JSONCase("n_number_1eE2", "[1eE2]"),
    JSONCase("n_number_2.e+3", "[2.e+3]"),
    JSONCase("n_number_2.e-3", "[2.e-3]"),
    JSONCase("n_number_2.e3", "[2.e3]"),
    JSONCase("n_number_9.e+", "[9.e+]"),
    JSONCase("n_number_Inf", "[Inf]"),
    JSONCase("n_number_NaN", "[NaN]"),
    JSONCase("n_number_infinity", "[Infinity]"),
    JSONCase("n_number_minus_infinity", "[-Infinity]"),
    JSONCase("n_number_U+FF11_fullwidth_digit_one", "[%EF%BC%91]"),
    JSONCase("n_number_expression", "[1+2]"),
    JSONCase("n_number_hex_1_digit", "[0x1]"),
    JSONCase("n_number_hex_2_digits", "[0x42]"),
    JSONCase("n_number_invalid+-", "[0e+-1]"),
    JSONCase("n_number_invalid-negative-real", "[-123.123foo]"),
    JSONCase("n_number_invalid-utf-8-in-exponent", "[1e1%E5]"),
    JSONCase("n_number_minus_space_1", "[- 1]"),
    JSONCase("n_number_neg_int_starting_with_zero", "[-012]"),
    JSONCase("n_number_neg_real_without_int_part", "[-.123]"),
    JSONCase("n_number_neg_with_garbage_at_end", "[-1x]"),
    JSONCase("n_number_real_garbage_after_e", "[1ea]"),
    JSONCase("n_number_real_with_invalid_utf8_after_e", "[1e%E5]"),
    JSONCase("n_number_real_without_fractional_part", "[1.]"),
    JSONCase("n_number_starting_with_dot", "[.123]"),
    JSONCase("n_number_with_alpha", "[1.2a-3]"),
    JSONCase("n_number_with_alpha_char", "[1.8011670033376514H-308]"),
    JSONCase("n_number_with_leading_zero", "[012]"),
    JSONCase("n_number_leading_zeros_top_level", "00"),
    JSONCase("n_number_exponent_fraction", "[1e1.0]"),
    // Numbers beyond a double: JSONTestSuite's i_number_*_huge_exp; Ferry refuses them
    // rather than reading infinity, which it could only write back as null.
    JSONCase("n_number_huge_exp_ferry", "[1e999]"),
    JSONCase("n_number_neg_huge_exp_ferry", "[-1e999]"),
    JSONCase("n_number_real_pos_overflow_ferry", "[123123e100000]"),
    JSONCase("n_number_real_neg_overflow_ferry", "[-123123e100000]"),
    JSONCase("n_number_just_above_double_max_ferry", "[1.8e308]"),
    JSONCase("n_number_huge_exp_long_ferry", "[0.4e00669999999999999999999999999999999999999999999999999999969999999006]"),
    JSONCase("n_number_huge_int_overflowing_double_ferry", "[1" + String(repeating: "0", count: 400) + "]"),
    // Objects.
    JSONCase("n_object_bad_value", #"["x", truth]"#),
    JSONCase("n_object_bracket_key", #"{[: "x"}"#),
    JSONCase("n_object_comma_instead_of_colon", #"{"x", null}"#),
    JSONCase("n_object_double_colon", #"{"x"::"b"}"#),
    JSONCase("n_object_emoji", "{🇨🇭}"),
    JSONCase("n_object_garbage_at_end", #"{"a":"a" 123}"#),
    JSONCase("n_object_key_with_single_quotes", "{key: 'value'}"),
    JSONCase("n_object_lone_continuation_byte_in_key_and_trailing_comma", #"{"%B9":"0",}"#),
    JSONCase("n_object_missing_colon", #"{"a" b}"#),
    JSONCase("n_object_missing_key", #"{:"b"}"#),
    JSONCase("n_object_missing_semicolon", #"{"a" "b"}"#),
    JSONCase("n_object_missing_value", #"{"a":"#),
    JSONCase("n_object_no-colon", #"{"a""#),
    JSONCase("n_object_non_string_key", "{1:1}"),
    JSONCase("n_object_non_string_key_but_huge_number_instead", "{9999E9999:1}"),
    JSONCase("n_object_repeated_null_null", "{null:null,null:null}"),
    JSONCase("n_object_several_trailing_commas", #"{"id":0,,,,,}"#),
    JSONCase("n_object_single_quote", "{'a':0}"),
    JSONCase("n_object_trailing_comma", #"{"id":0,}"#),
    JSONCase("n_object_trailing_comment", #"{"a":"b"}/**/"#),
    JSONCase("n_object_trailing_comment_open", #"{"a":"b"}/**//"#),
    JSONCase("n_object_trailing_comment_slash_open", #"{"a":"b"}//"#),
    JSONCase("n_object_two_commas_in_a_row", #"{"a":"b",,"c":"d"}"#),
    JSONCase("n_object_unquoted_key", #"{a: "b"}"#),
    JSONCase("n_object_unterminated-value", #"{"a":"a"#),
    JSONCase("n_object_with_single_string", #"{ "foo" : "bar", "a" }"#),
    JSONCase("n_object_with_trailing_garbage", #"{"a":"b"}#"#),
    JSONCase("n_object_comma_only", "{,}"),
    JSONCase("n_object_leading_comma", #"{,"a":1}"#),
    // Strings: escapes.
    JSONCase("n_string_1_surrogate_then_escape", #"["\uD800\"]"#),
    JSONCase("n_string_1_surrogate_then_escape_u", #"["\uD800\u"]"#),
    JSONCase("n_string_1_surrogate_then_escape_u1", #"["\uD800\u1"]"#),
    JSONCase("n_string_1_surrogate_then_escape_u1x", #"["\uD800\u1x"]"#),
    JSONCase("n_string_accentuated_char_no_quotes", "[é]"),
    JSONCase("n_string_backslash_00", #"["\%00"]"#),
    JSONCase("n_string_escape_x", #"["\x00"]"#),
    JSONCase("n_string_escaped_backslash_bad", #"["\\\"]"#),
    JSONCase("n_string_escaped_ctrl_char_tab", "[\"\\\t\"]"),
    JSONCase("n_string_escaped_emoji", #"["\🌀"]"#),
    JSONCase("n_string_incomplete_escape", #"["\"]"#),
    JSONCase("n_string_incomplete_escaped_character", #"["\u00A"]"#),
    JSONCase("n_string_incomplete_surrogate", #"["\uD834\uDd"]"#),
    JSONCase("n_string_incomplete_surrogate_escape_invalid", #"["\uD800\uD800\x"]"#),
    JSONCase("n_string_invalid-utf-8-in-escape", #"["\u%E5"]"#),
    JSONCase("n_string_invalid_backslash_esc", #"["\a"]"#),
    JSONCase("n_string_invalid_unicode_escape", #"["\uqqqq"]"#),
    JSONCase("n_string_invalid_utf8_after_escape", #"["\%E5"]"#),
    JSONCase("n_string_leading_uescaped_thinspace", #"[\u0020"asd"]"#),
    JSONCase("n_string_no_quotes_with_bad_escape", #"[\n]"#),
    JSONCase("n_string_single_doublequote", #"""#),
    JSONCase("n_string_single_quote", "['single quote']"),
    JSONCase("n_string_single_string_no_double_quotes", "abc"),
    JSONCase("n_string_start_escape_unclosed", #"["\"#),
    JSONCase("n_string_unicode_CapitalU", #""\UA66D""#),
    JSONCase("n_string_with_trailing_garbage", #"""x"#),
    JSONCase("n_string_escaped_uppercase_escape_letter", #"["\N"]"#),
    JSONCase("n_string_escape_u_with_plus", #"["\u+123"]"#),
    // Strings: control characters must be escaped.
    JSONCase("n_string_unescaped_ctrl_char", #"["a%00a"]"#),
    JSONCase("n_string_unescaped_newline", "[\"new\nline\"]"),
    JSONCase("n_string_unescaped_tab", "[\"\t\"]"),
    JSONCase("n_string_unescaped_carriage_return", "[\"a\rb\"]"),
    JSONCase("n_string_unescaped_0x1F", #"["%1F"]"#),
    JSONCase("n_string_unescaped_ctrl_char_in_key", #"{"a%01":1}"#),
    JSONCase("n_string_unescaped_ctrl_char_after_escape", #"["\n%01"]"#),
    // Strings: surrogates written as escapes (JSONTestSuite's i_string_*; Ferry refuses).
    JSONCase("n_string_lone_high_surrogate_ferry", #"["\uD800"]"#),
    JSONCase("n_string_lone_high_surrogate_2_ferry", #"["\uDADA"]"#),
    JSONCase("n_string_lone_low_surrogate_ferry", #"["\uDFAA"]"#),
    JSONCase("n_string_1st_surrogate_but_2nd_missing_ferry", #"["\uDADAx"]"#),
    JSONCase("n_string_1st_valid_surrogate_2nd_invalid_ferry", #"["\uD888\u1234"]"#),
    JSONCase("n_string_incomplete_surrogate_and_escape_valid_ferry", #"["\uD800\n"]"#),
    JSONCase("n_string_incomplete_surrogate_pair_ferry", #"["\uDd1ea"]"#),
    JSONCase("n_string_inverted_surrogates_U+1D11E_ferry", #"["\uDd1e\uD834"]"#),
    JSONCase("n_string_two_high_surrogates_ferry", #"["\uD800\uD800"]"#),
    JSONCase("n_string_lone_second_surrogate_ferry", #"["\uDFAA"]"#),
    JSONCase("n_string_lone_surrogate_in_key_ferry", #"{"\uD800":1}"#),
    JSONCase("n_string_high_surrogate_at_end_of_string_ferry", #""\uDBFF""#),
    // Strings: bytes that are not UTF-8 (JSONTestSuite's i_string_*; Ferry refuses).
    JSONCase("n_string_UTF-8_invalid_sequence_ferry", #"["日ш%FA"]"#),
    JSONCase("n_string_UTF8_surrogate_U+D800_ferry", #"["%ED%A0%80"]"#),
    JSONCase("n_string_UTF8_surrogate_U+DFFF_ferry", #"["%ED%BF%BF"]"#),
    JSONCase("n_string_UTF8_surrogate_pair_as_two_sequences_ferry", #"["%ED%A0%BD%ED%B8%80"]"#),
    JSONCase("n_string_invalid_utf-8_0xFF_ferry", #"["%FF"]"#),
    JSONCase("n_string_invalid_utf-8_0xFE_ferry", #"["%FE"]"#),
    JSONCase("n_string_iso_latin_1_ferry", #"["%E9"]"#),
    JSONCase("n_string_lone_utf8_continuation_byte_ferry", #"["%81"]"#),
    JSONCase("n_string_not_in_unicode_range_ferry", #"["%F4%BF%BF%BF"]"#),
    JSONCase("n_string_above_0x10FFFF_F5_ferry", #"["%F5%80%80%80"]"#),
    JSONCase("n_string_overlong_sequence_2_bytes_ferry", #"["%C0%AF"]"#),
    JSONCase("n_string_overlong_null_ferry", #"["%C0%80"]"#),
    JSONCase("n_string_overlong_sequence_3_bytes_ferry", #"["%E0%80%AF"]"#),
    JSONCase("n_string_overlong_sequence_4_bytes_ferry", #"["%F0%80%80%AF"]"#),
    JSONCase("n_string_overlong_sequence_6_bytes_ferry", #"["%FC%83%BF%BF%BF%BF"]"#),
    JSONCase("n_string_overlong_sequence_6_bytes_null_ferry", #"["%FC%80%80%80%80%80"]"#),
    JSONCase("n_string_truncated-utf-8_ferry", #"["%E0%FF"]"#),
    JSONCase("n_string_truncated_2_byte_sequence_ferry", #"["%C3"]"#),
    JSONCase("n_string_truncated_3_byte_sequence_ferry", #"["%E2%82"]"#),
    JSONCase("n_string_truncated_4_byte_sequence_ferry", #"["%F0%9F%98"]"#),
    JSONCase("n_string_truncated_sequence_then_ascii_ferry", #"["%E2%82a"]"#),
    JSONCase("n_string_5_byte_sequence_ferry", #"["%F8%88%80%80%80"]"#),
    JSONCase("n_string_invalid_utf8_after_an_escape_ferry", #"["\n%FF"]"#),
    JSONCase("n_string_UTF8_surrogate_after_an_escape_ferry", #"["\t%ED%A0%80"]"#),
    JSONCase("n_string_invalid_utf8_in_key_ferry", #"{"%FF":0}"#),
    JSONCase("n_string_UTF8_surrogate_in_key_ferry", #"{"%ED%A0%80":0}"#),
    JSONCase("n_string_overlong_in_escaped_key_ferry", #"{"\n%C0%AF":0}"#),
    JSONCase("n_string_invalid_utf8_top_level_ferry", #""%C3%28""#),
    // UTF-16 and byte order marks (JSONTestSuite's i_structure_UTF-8_BOM_empty_object and
    // i_string_utf16*: Ferry reads UTF-8 without a BOM only).
    JSONCase("n_structure_UTF-8_BOM_empty_object_ferry", "%EF%BB%BF{}"),
    JSONCase("n_structure_UTF8_BOM_no_data", "%EF%BB%BF"),
    JSONCase("n_structure_incomplete_UTF8_BOM", "%EF%BB{}"),
    JSONCase("n_string_utf16BE_no_BOM_ferry", "%00[%00\"%00%E9%00\"%00]"),
    JSONCase("n_string_utf16LE_no_BOM_ferry", "[%00\"%00%E9%00\"%00]%00"),
    JSONCase("n_structure_UTF16LE_BOM_ferry", "%FF%FE[%00]%00"),
    // Structure.
    JSONCase("n_structure_angle_bracket_.", "<.>"),
    JSONCase("n_structure_angle_bracket_null", "[<null>]"),
    JSONCase("n_structure_array_trailing_garbage", "[1]x"),
    JSONCase("n_structure_array_with_extra_array_close", "[1]]"),
    JSONCase("n_structure_array_with_unclosed_string", #"["asd]"#),
    JSONCase("n_structure_ascii-unicode-identifier", "aå"),
    JSONCase("n_structure_close_unopened_array", "1]"),
    JSONCase("n_structure_comma_instead_of_closing_brace", #"{"x": true,"#),
    JSONCase("n_structure_double_array", "[][]"),
    JSONCase("n_structure_two_objects", "{} {}"),
    JSONCase("n_structure_two_scalars", "1 2"),
    JSONCase("n_structure_end_array", "]"),
    JSONCase("n_structure_end_object", "}"),
    JSONCase("n_structure_lone-invalid-utf-8", "%E5"),
    JSONCase("n_structure_lone-open-bracket", "["),
    JSONCase("n_structure_lone-open-brace", "{"),
    JSONCase("n_structure_null-byte-outside-string", "[%00]"),
    JSONCase("n_structure_null_byte_after_value", "[]%00"),
    JSONCase("n_multidigit_number_then_00", "123%00"),
    JSONCase("n_structure_number_with_trailing_garbage", "2@"),
    JSONCase("n_structure_object_followed_by_closing_object", "{}}"),
    JSONCase("n_structure_object_unclosed_no_value", #"{"":"#),
    JSONCase("n_structure_object_with_comment", #"{"a":/*comment*/"b"}"#),
    JSONCase("n_structure_object_with_trailing_garbage", #"{"a": true} "x""#),
    JSONCase("n_structure_open_array_apostrophe", "['"),
    JSONCase("n_structure_open_array_comma", "[,"),
    JSONCase("n_structure_open_array_open_object", "[{"),
    JSONCase("n_structure_open_array_open_string", #"["a"#),
    JSONCase("n_structure_open_array_string", #"["a""#),
    JSONCase("n_structure_open_object_close_array", "{]"),
    JSONCase("n_structure_open_object_comma", "{,"),
    JSONCase("n_structure_open_object_open_array", "{["),
    JSONCase("n_structure_open_object_open_string", #"{"a"#),
    JSONCase("n_structure_open_object_string_with_apostrophes", "{'a'"),
    JSONCase("n_structure_open_open", #"["\{["\{["\{["\{"#),
    JSONCase("n_structure_single_eacute", "%E9"),
    JSONCase("n_structure_single_star", "*"),
    JSONCase("n_structure_trailing_#", #"{"a":"b"}#{}"#),
    JSONCase("n_structure_U+2060_word_joined", "[%E2%81%A0]"),
    JSONCase("n_structure_uescaped_LF_before_string", #"[\u000A""]"#),
    JSONCase("n_structure_unclosed_array", "[1"),
    JSONCase("n_structure_unclosed_array_partial_null", "[ false, nul"),
    JSONCase("n_structure_unclosed_array_unfinished_false", "[ true, fals"),
    JSONCase("n_structure_unclosed_array_unfinished_true", "[ false, tru"),
    JSONCase("n_structure_unclosed_object", #"{"asd":"asd""#),
    JSONCase("n_structure_unicode-identifier", "å"),
    JSONCase("n_structure_whitespace_U+2060_word_joiner", "[%E2%81%A0]"),
    JSONCase("n_structure_whitespace_formfeed", "[\u{0C}]"),
    JSONCase("n_structure_whitespace_vertical_tab", "[%0B1]"),
    JSONCase("n_structure_whitespace_nbsp", "[%C2%A01]"),
    JSONCase("n_structure_whitespace_ideographic_space", "[%E3%80%801]"),
    JSONCase("n_structure_whitespace_null_byte", "%00[]"),
    // Depth: more than 512 nested arrays or objects (and far more, without exhausting the stack).
    JSONCase("n_structure_513_nested_arrays_ferry", String(repeating: "[", count: 513) + String(repeating: "]", count: 513)),
    JSONCase(
        "n_structure_513_nested_objects_ferry",
        String(repeating: #"{"a":"#, count: 512) + "{}" + String(repeating: "}", count: 512)
    ),
    JSONCase("n_structure_100000_opening_arrays", String(repeating: "[", count: 100_000)),
    JSONCase("n_structure_open_array_object", String(repeating: #"[{"":"#, count: 50_000) + "\n"),
]

/// The three ways of reading a whole document, which must agree on what they accept.
private enum ReadEntry: CaseIterable {
    case value, skip, compactText

    func read(_ bytes: [UInt8]) throws {
        switch self {
        case .value: _ = try JSONValue(parsing: bytes)
        case .skip: try JSONReader.withReader(bytes) { try $0.skipValue() }
        case .compactText: _ = try JSONReader.withReader(bytes) { try $0.readCompactText() }
        }
    }
}

/// Ferry's JSON reader against a conformance corpus (written for Ferry in the manner of the
/// public JSONTestSuite), a reference recognizer and Foundation, on fixed and random inputs.
@Suite struct JSONConformanceTests {
    @Test(arguments: accepted)
    func acceptsValidJSON(_ input: JSONCase) throws {
        for entry in ReadEntry.allCases {
            #expect(throws: Never.self, "\(entry)") { try entry.read(input.bytes) }
        }
        #expect(ReferenceJSON.isValid(input.bytes), "the reference recognizer agrees")
        // Where Foundation reads the text too, both read the same value; with a repeated
        // member name they differ by design (RFC 8259 leaves it open): Ferry keeps the last,
        // as JavaScript does, and Foundation the first.
        let ours = try JSONValue(parsing: input.bytes)
        if let theirs = try? JSONDecoder().decode(JSONValue.self, from: Data(input.bytes)), !ReferenceJSON.repeatsAMemberName(input.bytes) {
            #expect(ours == theirs)
        }
        let compact = try JSONReader.withReader(input.bytes) { try $0.readCompactText() }
        #expect(compact == ReferenceJSON.removingInsignificantWhitespace(input.bytes))
        #expect(try JSONValue(parsing: compact) == ours)
    }

    @Test(arguments: refused)
    func refusesInvalidJSON(_ input: JSONCase) {
        for entry in ReadEntry.allCases {
            #expect(throws: JSONReadError.self, "\(entry)") { try entry.read(input.bytes) }
        }
        #expect(!ReferenceJSON.isValid(input.bytes), "the reference recognizer agrees")
    }

    @Test func theCorpusNamesAreUniqueAndPrefixed() {
        let names = (accepted + refused).map(\.name)
        #expect(Set(names).count == names.count)
        #expect(accepted.allSatisfy { $0.name.hasPrefix("y_") })
        #expect(refused.allSatisfy { $0.name.hasPrefix("n_") })
    }

    /// Values read from the corpus keep what they say: escapes decoded, integers exact.
    @Test(arguments: [
        (#"["\uD801\udc37"]"#, JSONValue.array([.string("\u{10437}")])),
        (#"["\u0000"]"#, .array([.string("\u{0}")])),
        (#"{"foo\u0000bar": 42}"#, .object(["foo\u{0}bar": .int(42)])),
        ("[-0]", .array([.int(0)])),
        ("[20e1]", .array([.int(200)])),
        ("[-9223372036854775808]", .array([.int(.min)])),
        ("[9223372036854775808]", .array([.double(9_223_372_036_854_775_808)])),
        ("[1e-999]", .array([.int(0)])),
        ("[1.5]", .array([.double(1.5)])),
        (#"{"a":"b","a":"c"}"#, .object(["a": .string("c")])),
        (#"["\"\\\/\b\f\n\r\t"]"#, .array([.string("\"\\/\u{8}\u{C}\n\r\t")])),
    ])
    func readsTheValueTheTextMeans(text: String, expected: JSONValue) throws {
        #expect(try JSONValue(parsing: text) == expected)
    }

    /// Random bytes, and documents mutated at random: the reader never crashes, throws only
    /// `JSONReadError`, accepts exactly what the reference recognizer accepts (so never
    /// anything that is not UTF-8), and its three entry points agree. What it accepts,
    /// Foundation reads as the same value.
    @Test func randomAndMutatedInputsAreJudgedLikeTheReference() throws {
        var random = SplitMix64(seed: 0xFE11_7E57)
        let seeds = accepted.map(\.bytes).filter { $0.count < 2_000 }
        var acceptedCount = 0
        for round in 0..<12_000 {
            let input: [UInt8]
            switch round % 4 {
            case 0: input = Self.randomBytes(&random)
            case 1: input = Self.randomTokens(&random)
            default: input = Self.mutate(seeds.randomElement(using: &random)!, &random)
            }
            let reference = ReferenceJSON.isValid(input)
            var outcomes: [Bool] = []
            for entry in ReadEntry.allCases {
                do {
                    try entry.read(input)
                    outcomes.append(true)
                } catch is JSONReadError {
                    outcomes.append(false)
                } catch {
                    Issue.record("\(entry) threw \(error) for \(Self.show(input))")
                    outcomes.append(false)
                }
            }
            guard outcomes == [reference, reference, reference] else {
                Issue.record("round \(round): reference \(reference), reader \(outcomes) for \(Self.show(input))")
                continue
            }
            guard reference else { continue }
            acceptedCount += 1
            #expect(String(validating: input, as: UTF8.self) != nil, "accepted bytes that are not UTF-8: \(Self.show(input))")
            let ours = try JSONValue(parsing: input)
            if !ReferenceJSON.repeatsAMemberName(input) {
                let theirs = try? JSONDecoder().decode(JSONValue.self, from: Data(input))
                #expect(theirs == ours, "Foundation disagrees on \(Self.show(input))")
            }
            let compact = try JSONReader.withReader(input) { try $0.readCompactText() }
            #expect(compact == ReferenceJSON.removingInsignificantWhitespace(input), "compact text of \(Self.show(input))")
            #expect(try JSONValue(parsing: compact) == ours)
        }
        // The generators reach both sides of the line.
        #expect(acceptedCount > 600)
        #expect(acceptedCount < 9_000)
    }

    /// The compact text of random values: no whitespace outside strings, and it reads back as
    /// the same value; spaced-out renderings of the value compact to the same text.
    @Test func compactTextOfRandomValuesIsMinimalAndReadsBack() throws {
        var random = SplitMix64(seed: 0xC0_4AC7)
        for _ in 0..<500 {
            let value = Self.randomValue(&random, depth: 0)
            let serialized = value.serialized()
            let spaced = Self.spacedOut(serialized, &random)
            let compactOfSpaced = try JSONReader.withReader(spaced) { try $0.readCompactText() }
            let compactOfSerialized = try JSONReader.withReader(serialized) { try $0.readCompactText() }
            #expect(compactOfSpaced == serialized)
            #expect(compactOfSerialized == serialized)
            #expect(!ReferenceJSON.hasInsignificantWhitespace(compactOfSpaced))
            #expect(try JSONValue(parsing: compactOfSpaced) == value)
        }
    }

    /// `readCompactText` inside an object reads one member's value and leaves the reader on
    /// what follows, as the push envelope reads a payload.
    @Test func compactTextOfOneMemberLeavesTheRest() throws {
        let text = #"{ "payload" : { "b" : [ 1 , "x y" ] } , "after" : true }"#
        var payload: [UInt8] = []
        var after = false
        try JSONReader.withReader(Array(text.utf8)) { reader in
            try reader.readObject { reader, key in
                switch key {
                case "payload": payload = try reader.readCompactText()
                default: after = try reader.readBool()
                }
            }
        }
        #expect(String(decoding: payload, as: UTF8.self) == #"{"b":[1,"x y"]}"#)
        #expect(after)
    }

    // MARK: Generators

    private static func randomBytes(_ random: inout SplitMix64) -> [UInt8] {
        let count = Int.random(in: 0...24, using: &random)
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
    }

    /// Tokens of JSON and near-JSON, glued at random: mostly wrong, sometimes right.
    private static func randomTokens(_ random: inout SplitMix64) -> [UInt8] {
        let tokens = [
            "[", "]", "{", "}", ",", ":", " ", "\n", "\"a\"", "\"\"", "1", "-0", "2.5e3", "1e999", "true", "null", "false",
            "\"\\u00e9\"", "\"\\ud83d\\ude80\"", "\"\\ud800\"", "01", "\"é\"", "\t", "\"\\n\"",
        ]
        var out: [UInt8] = []
        for _ in 0..<Int.random(in: 1...12, using: &random) {
            out += Array(tokens.randomElement(using: &random)!.utf8)
        }
        return out
    }

    /// One to three edits of a valid document: bytes changed, inserted, removed or repeated,
    /// sometimes a sequence that is not UTF-8.
    private static func mutate(_ document: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var bytes = document
        let interesting: [[UInt8]] = [
            [0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0xF4, 0x90, 0x80, 0x80], [0x80], [0xC3, 0xA9],
            [0xF0, 0x9F, 0x9A, 0x80], [0x00], [0x1F], [0x5C], [0x22], [0x2C], [0x5D], [0x7D], [0x20], Array("\\u".utf8),
            Array("\\uDC00".utf8), Array("e+".utf8), [0x30], [0x2E],
        ]
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            let position = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<6, using: &random) {
            case 0 where !bytes.isEmpty: bytes[position] = UInt8.random(in: 0...255, using: &random)
            case 1 where !bytes.isEmpty: bytes.remove(at: position)
            case 2: bytes.insert(contentsOf: interesting.randomElement(using: &random)!, at: position)
            case 3 where !bytes.isEmpty: bytes[position] ^= 1 << UInt8.random(in: 0...7, using: &random)
            case 4 where !bytes.isEmpty:
                let end = min(bytes.count, position + Int.random(in: 1...8, using: &random))
                bytes.insert(contentsOf: bytes[position..<end], at: position)
            default: bytes.insert(UInt8.random(in: 0x20...0x7E, using: &random), at: position)
            }
        }
        return bytes
    }

    private static func randomValue(_ random: inout SplitMix64, depth: Int) -> JSONValue {
        switch Int.random(in: 0..<(depth > 3 ? 5 : 7), using: &random) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &random))
        case 2: return .int(Int64.random(in: .min ... .max, using: &random))
        case 3: return .double(Double.random(in: -1e6...1e6, using: &random))
        case 4:
            let scalars = ["a", " ", "\"", "\\", "\n", "\u{1}", "é", "🚀", "\u{2028}", "/", "\u{7F}"]
            return .string((0..<Int.random(in: 0...6, using: &random)).map { _ in scalars.randomElement(using: &random)! }.joined())
        case 5:
            return .array((0..<Int.random(in: 0...4, using: &random)).map { _ in randomValue(&random, depth: depth + 1) })
        default:
            var members: [String: JSONValue] = [:]
            for index in 0..<Int.random(in: 0...4, using: &random) {
                members["k\(index) \u{e9}"] = randomValue(&random, depth: depth + 1)
            }
            return .object(members)
        }
    }

    /// `bytes` with random insignificant whitespace between its tokens.
    private static func spacedOut(_ bytes: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        let whitespace: [UInt8] = [0x20, 0x09, 0x0A, 0x0D]
        var out: [UInt8] = []
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                out.append(byte)
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            // Whitespace may stand beside the structural characters only, not inside a number or a literal.
            let structural = Array("[]{},:".utf8).contains(byte)
            if structural || byte == UInt8(ascii: "\"") {
                for _ in 0..<Int.random(in: 0...2, using: &random) { out.append(whitespace.randomElement(using: &random)!) }
            }
            out.append(byte)
            if structural {
                for _ in 0..<Int.random(in: 0...2, using: &random) { out.append(whitespace.randomElement(using: &random)!) }
            }
            if byte == UInt8(ascii: "\"") { inString = true }
        }
        out.append(whitespace.randomElement(using: &random)!)
        return out
    }

    private static func show(_ bytes: [UInt8]) -> String {
        bytes.map { $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "%") ? String(UnicodeScalar($0)) : String(format: "%%%02X", $0) }
            .joined()
    }
}

/// A JSON recognizer written straight from the grammar of RFC 8259, slow and simple, with
/// Ferry's policies: UTF-8 only (no byte order mark, no surrogate code points, no lone
/// surrogate escapes), at most 512 nested arrays and objects, numbers within a double.
enum ReferenceJSON {
    static func isValid(_ bytes: [UInt8]) -> Bool {
        guard String(validating: bytes, as: UTF8.self) != nil else { return false }
        var parser = Parser(bytes: bytes)
        guard parser.value(depth: 0) else { return false }
        parser.whitespace()
        return parser.index == bytes.count
    }

    /// `bytes` without the whitespace between tokens.
    static func removingInsignificantWhitespace(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                out.append(byte)
            } else if ![0x20, 0x09, 0x0A, 0x0D].contains(byte) {
                if byte == UInt8(ascii: "\"") { inString = true }
                out.append(byte)
            }
        }
        return out
    }

    static func hasInsignificantWhitespace(_ bytes: [UInt8]) -> Bool {
        removingInsignificantWhitespace(bytes) != bytes
    }

    /// Whether an object of the valid text `bytes` names a member twice (as written).
    static func repeatsAMemberName(_ bytes: [UInt8]) -> Bool {
        var parser = Parser(bytes: bytes)
        _ = parser.value(depth: 0)
        return parser.repeatedName
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0
        /// Whether an object named a member twice, as written.
        var repeatedName = false

        init(bytes: [UInt8]) { self.bytes = bytes }

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func whitespace() {
            while let byte = current, [0x20, 0x09, 0x0A, 0x0D].contains(byte) { index += 1 }
        }

        mutating func take(_ byte: UInt8) -> Bool {
            guard current == byte else { return false }
            index += 1
            return true
        }

        mutating func value(depth: Int) -> Bool {
            whitespace()
            guard let byte = current else { return false }
            switch byte {
            case UInt8(ascii: "{"):
                guard depth < 512 else { return false }
                index += 1
                whitespace()
                if take(UInt8(ascii: "}")) { return true }
                var names: Set<ArraySlice<UInt8>> = []
                repeat {
                    whitespace()
                    let nameStart = index
                    guard string() else { return false }
                    if !names.insert(bytes[nameStart..<index]).inserted { repeatedName = true }
                    whitespace()
                    guard take(UInt8(ascii: ":")), value(depth: depth + 1) else { return false }
                    whitespace()
                } while take(UInt8(ascii: ","))
                return take(UInt8(ascii: "}"))
            case UInt8(ascii: "["):
                guard depth < 512 else { return false }
                index += 1
                whitespace()
                if take(UInt8(ascii: "]")) { return true }
                repeat {
                    guard value(depth: depth + 1) else { return false }
                    whitespace()
                } while take(UInt8(ascii: ","))
                return take(UInt8(ascii: "]"))
            case UInt8(ascii: "\""): return string()
            case UInt8(ascii: "t"): return literal("true")
            case UInt8(ascii: "f"): return literal("false")
            case UInt8(ascii: "n"): return literal("null")
            default: return number()
            }
        }

        mutating func literal(_ word: String) -> Bool {
            for byte in word.utf8 { guard take(byte) else { return false } }
            return true
        }

        func isDigit(_ byte: UInt8?) -> Bool { byte.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }

        mutating func number() -> Bool {
            let start = index
            _ = take(UInt8(ascii: "-"))
            if take(UInt8(ascii: "0")) {
                // int = zero / ( digit1-9 *DIGIT )
            } else if isDigit(current) {
                while isDigit(current) { index += 1 }
            } else {
                return false
            }
            if take(UInt8(ascii: ".")) {
                guard isDigit(current) else { return false }
                while isDigit(current) { index += 1 }
            }
            if take(UInt8(ascii: "e")) || take(UInt8(ascii: "E")) {
                _ = take(UInt8(ascii: "+")) || take(UInt8(ascii: "-"))
                guard isDigit(current) else { return false }
                while isDigit(current) { index += 1 }
            }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            return Double(text)?.isFinite == true
        }

        mutating func hex4() -> UInt32? {
            guard index + 4 <= bytes.count, let value = UInt32(String(decoding: bytes[index..<(index + 4)], as: UTF8.self), radix: 16)
            else { return nil }
            // UInt32(_:radix:) would take a sign: only hex digits are allowed.
            guard bytes[index..<(index + 4)].allSatisfy({ isDigit($0) || (0x41...0x46).contains($0) || (0x61...0x66).contains($0) })
            else { return nil }
            index += 4
            return value
        }

        mutating func string() -> Bool {
            guard take(UInt8(ascii: "\"")) else { return false }
            while let byte = current {
                index += 1
                switch byte {
                case UInt8(ascii: "\""): return true
                case 0x00..<0x20: return false
                case UInt8(ascii: "\\"):
                    guard let escape = current else { return false }
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                        UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        continue
                    case UInt8(ascii: "u"):
                        guard let unit = hex4() else { return false }
                        if (0xDC00...0xDFFF).contains(unit) { return false }
                        if (0xD800...0xDBFF).contains(unit) {
                            guard take(UInt8(ascii: "\\")), take(UInt8(ascii: "u")), let low = hex4(), (0xDC00...0xDFFF).contains(low)
                            else { return false }
                        }
                    default:
                        return false
                    }
                default:
                    continue  // UTF-8 was checked for the whole text
                }
            }
            return false
        }
    }
}
