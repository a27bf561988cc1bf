module example.com/Shout

go 1.21
