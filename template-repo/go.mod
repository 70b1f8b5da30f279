module artifact

go 1.19
