/* A hostile translation unit: cc1 opens the file named by this pragma, so on
 * plain distccd the client learns whether a host file exists and is readable
 * (its answer differs: "PCH file was invalid" vs "No such file"). */
#pragma GCC pch_preprocess "SECRET_PATH"
int pch_marker = 1;
