module example.com/greet

go 1.21

require example.com/Shout v1.2.0
